// Fused CUDA kernels of the wired EFD lookup (difflut/nodes/efd.py, WiredEFDLookup), float32: a layer of
// N nodes reading a (B, M) input through a fixed wiring, without materialising the (B, N, k) node inputs.
// A block works on one sample and a chunk of the nodes (several chunks per sample when the batch is small);
// it holds the sample's row (x, or the input gradient) in shared memory when it fits (M <= kSharedFloats).
// (Blocks of 2 or 4 samples, reading each node's wiring once for all, measured slower on an H200.)
//
// forward: per sample b and node n: u = sum_j [x[b, columns[j, n]] >= 0.5] * 2**j,
//          out[b, n] = table[n, u] (or [table[n, u] >= 0] as 0/1 when hard), address[b, n] = u.
// input gradient: grad_x[b, columns[j, n]] += (scale * grad[b, n]) * factors[n, u, j] (factors padded to
//          kFactorStride floats per entry, one 32-byte sector): the products of the unwired path, summed
//          in shared memory. Where the row fits twice (M <= kSharedFloats / 2) and a block adds at most
//          kMaxFixedTerms products, in fixed point: each product scaled by the block's power of two 2**s
//          (s from a bound on |product| * products, so that every partial sum stays below 2**46), rounded
//          to an integer c, and c's high part (c >> 16) and low 16 bits added to two int32 rows with native
//          integer atomics (float atomics in shared memory are compare-and-swap loops); the sum is exact,
//          so the result does not depend on the order of the additions (deterministic when one block holds
//          a sample's nodes), and equals the float sum up to the rounding of each product to 2**-s.
//          Otherwise float atomics (a non-finite bound also takes them, to keep inf/nan as the torch
//          path does). Global atomics for the whole row measured slower.
// table gradient (also used by the unwired path, efd_lookup_cuda.cu): a block holds a tile of 32 nodes'
//          tables in shared memory, accumulates scale * grad[b, n] at address[b, n] over a chunk of the
//          batch, then adds the tile to grad_table (global atomics, one per entry and chunk).
#include <torch/extension.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>

namespace {

constexpr int kThreads = 256;
constexpr int kMaxK = 8;                     // k limit of these kernels (wired_max_k)
constexpr int kFactorStride = kMaxK;         // floats per factors entry (padded to one 32-byte sector)
constexpr int64_t kSharedFloats = 12288;     // 48 KB of shared memory for a sample's row
constexpr int64_t kMinBlocks = 1024;         // split the nodes into chunks until there are this many blocks
constexpr int kTileNodes = 32;               // nodes per table-gradient block (one warp's width)
constexpr int kTileRows = 8;                 // warps per table-gradient block, each on its own samples
constexpr int64_t kChunkRows = 256;          // samples per table-gradient block
constexpr int64_t kMaxFixedTerms = 65535;    // products per block in fixed point: the low-part sums fit uint32
constexpr int kFixedBits = 46;               // fixed-point partial sums stay below 2**46 (high parts: int32)

struct Layout {
  int64_t batch, chunk, chunks;  // blocks: batch x chunks, each on `chunk` nodes of one sample
  bool shared;                   // the sample's row in shared memory
  bool fixed(int64_t inputs, int k) const {  // the input gradient in fixed point (two int32 rows)
    return shared && 2 * inputs <= kSharedFloats && chunk * k <= kMaxFixedTerms;
  }
  dim3 grid() const { return dim3(unsigned(batch), unsigned(chunks)); }
  size_t shared_bytes(int64_t inputs) const { return shared ? size_t(inputs) * sizeof(float) : 0; }
};

Layout layout(int64_t batch, int64_t nodes, int64_t inputs) {
  Layout l;
  l.batch = batch;
  l.shared = inputs <= kSharedFloats;
  const int64_t most = std::max<int64_t>(1, (nodes + kThreads - 1) / kThreads);  // chunks at least a block wide
  const int64_t want = std::min(most, std::max<int64_t>(1, (kMinBlocks + batch - 1) / std::max<int64_t>(batch, 1)));
  l.chunk = (nodes + want - 1) / want;
  l.chunks = (nodes + l.chunk - 1) / l.chunk;
  return l;
}

template <bool kShared>
__global__ void wired_forward_kernel(const float* __restrict__ x, const int32_t* __restrict__ columns,
                                     const float* __restrict__ table, float* __restrict__ out,
                                     int32_t* __restrict__ address, int64_t nodes, int64_t inputs, int k,
                                     bool hard, int64_t chunk) {
  extern __shared__ float row[];
  const int64_t b = blockIdx.x;
  if (kShared) {
    for (int64_t m = threadIdx.x; m < inputs; m += blockDim.x) row[m] = x[b * inputs + m];
    __syncthreads();
  }
  const float* src = kShared ? row : x + b * inputs;
  const int64_t first = blockIdx.y * chunk, last = min(nodes, first + chunk);
  for (int64_t n = first + threadIdx.x; n < last; n += blockDim.x) {
    int32_t u = 0;
    for (int j = 0; j < k; ++j) u |= int32_t(src[columns[j * nodes + n]] >= 0.5f) << j;
    const float v = table[(n << k) + u];
    out[b * nodes + n] = hard ? (v >= 0.f ? 1.f : 0.f) : v;
    address[b * nodes + n] = u;
  }
}

// dst[columns[j, n]] += (scale * grad[b, n]) * factors[n, address[b, n], j] for the nodes n in [first, last)
// of sample b, with float atomics (dst in shared or global memory)
__device__ void add_products(float* dst, const float* __restrict__ grad, const int32_t* __restrict__ address,
                             const float* __restrict__ factors, const int32_t* __restrict__ columns, int64_t b,
                             int64_t first, int64_t last, int64_t nodes, int k, float scale) {
  for (int64_t n = first + threadIdx.x; n < last; n += blockDim.x) {
    const int64_t i = b * nodes + n;
    const float g = grad[i] * scale;
    const float* f = factors + ((n << k) + address[i]) * kFactorStride;
    for (int j = 0; j < k; ++j) atomicAdd(dst + columns[j * nodes + n], g * f[j]);
  }
}

// out[m] = sum[m] (store: the sample's only node chunk) or out[m] += sum[m], for the sample's inputs
__device__ void write_row(float* __restrict__ out, const float* sum, int64_t inputs, bool store) {
  for (int64_t m = threadIdx.x; m < inputs; m += blockDim.x) {
    if (store) out[m] = sum[m];
    else if (sum[m] != 0.f) atomicAdd(out + m, sum[m]);
  }
}

template <bool kShared>
__global__ void wired_input_grad_kernel(const float* __restrict__ grad, const int32_t* __restrict__ address,
                                        const float* __restrict__ factors, const int32_t* __restrict__ columns,
                                        float* __restrict__ grad_x, int64_t nodes, int64_t inputs, int k,
                                        float scale, int64_t chunk, bool store) {
  extern __shared__ float sum[];
  const int64_t b = blockIdx.x;
  float* out = grad_x + b * inputs;
  if (kShared) {
    for (int64_t m = threadIdx.x; m < inputs; m += blockDim.x) sum[m] = 0.f;
    __syncthreads();
  }
  const int64_t first = blockIdx.y * chunk, last = min(nodes, first + chunk);
  add_products(kShared ? sum : out, grad, address, factors, columns, b, first, last, nodes, k, scale);
  if (kShared) {
    __syncthreads();
    write_row(out, sum, inputs, store);
  }
}

// The input gradient of one block in fixed point (see the top); `factor_max` -> max |factors| (device scalar).
__global__ void wired_input_grad_fixed_kernel(const float* __restrict__ grad, const int32_t* __restrict__ address,
                                              const float* __restrict__ factors, const int32_t* __restrict__ columns,
                                              const float* __restrict__ factor_max, float* __restrict__ grad_x,
                                              int64_t nodes, int64_t inputs, int k, float scale, int64_t chunk,
                                              bool store) {
  extern __shared__ int32_t rows[];  // high parts [inputs], low parts [inputs] (uint32); or one float row
  __shared__ float warp_max[kThreads / 32];
  int32_t* high = rows;
  uint32_t* low = reinterpret_cast<uint32_t*>(rows + inputs);
  const int64_t b = blockIdx.x;
  const int64_t first = blockIdx.y * chunk, last = min(nodes, first + chunk);
  for (int64_t m = threadIdx.x; m < 2 * inputs; m += blockDim.x) rows[m] = 0;
  float most = 0.f;  // max |grad| of the chunk, nan if any is nan
  for (int64_t n = first + threadIdx.x; n < last; n += blockDim.x) {
    const float a = fabsf(grad[b * nodes + n]);
    most = (a > most || a != a) ? a : most;
  }
  for (int offset = 16; offset > 0; offset >>= 1) {
    const float other = __shfl_xor_sync(0xffffffffu, most, offset);
    most = (other > most || other != other) ? other : most;
  }
  if (threadIdx.x % 32 == 0) warp_max[threadIdx.x / 32] = most;
  __syncthreads();
  float bound = 0.f;  // >= |product| * products of this block
  for (int w = 0; w < int(blockDim.x / 32); ++w) bound = (warp_max[w] > bound || warp_max[w] != warp_max[w]) ? warp_max[w] : bound;
  bound *= fabsf(scale) * *factor_max * float((last - first) * k);
  if (bound < INFINITY) {  // false for inf and nan
    int exponent;
    frexpf(bound, &exponent);  // bound < 2**exponent
    const int shift = min(kFixedBits - exponent, 127);
    const float to_fixed = exp2f(float(shift));
    for (int64_t n = first + threadIdx.x; n < last; n += blockDim.x) {
      const int64_t i = b * nodes + n;
      const float g = grad[i] * scale;
      const float* f = factors + ((n << k) + address[i]) * kFactorStride;
      for (int j = 0; j < k; ++j) {
        const long long c = __float2ll_rn(g * f[j] * to_fixed);
        const int32_t m = columns[j * nodes + n];
        atomicAdd(high + m, int32_t(c >> 16));
        atomicAdd(low + m, uint32_t(c & 0xffff));
      }
    }
    __syncthreads();
    for (int64_t m = threadIdx.x; m < inputs; m += blockDim.x) {
      const long long total = (long long)high[m] * 65536 + (long long)low[m];
      const float v = float(ldexp(double(total), -shift));
      if (store) grad_x[b * inputs + m] = v;
      else if (v != 0.f) atomicAdd(grad_x + b * inputs + m, v);
    }
    return;
  }
  float* sum = reinterpret_cast<float*>(rows);  // zero bits: 0.f (the float path of wired_input_grad_kernel)
  add_products(sum, grad, address, factors, columns, b, first, last, nodes, k, scale);
  __syncthreads();
  write_row(grad_x + b * inputs, sum, inputs, store);
}

__global__ void table_grad_kernel(const float* __restrict__ grad, const int32_t* __restrict__ address,
                                  float* __restrict__ grad_table, int64_t batch, int64_t nodes, int k, float scale) {
  extern __shared__ float tile[];  // kTileNodes rows of 2**k + 1 floats (the pad spreads rows over banks)
  const int size = 1 << k, stride = size + 1;
  const int lane = threadIdx.x, row = threadIdx.y, thread = row * kTileNodes + lane;
  for (int t = thread; t < kTileNodes * stride; t += kTileNodes * kTileRows) tile[t] = 0.f;
  __syncthreads();
  const int64_t n = int64_t(blockIdx.x) * kTileNodes + lane;
  const int64_t first = blockIdx.y * kChunkRows, last = min(batch, first + kChunkRows);
  if (n < nodes) {
    for (int64_t b = first + row; b < last; b += kTileRows) {
      const int64_t i = b * nodes + n;
      atomicAdd(tile + lane * stride + address[i], grad[i] * scale);
    }
  }
  __syncthreads();
  for (int t = thread; t < kTileNodes * size; t += kTileNodes * kTileRows) {
    const int local = t >> k, u = t & (size - 1);
    const int64_t node = int64_t(blockIdx.x) * kTileNodes + local;
    const float v = tile[local * stride + u];
    if (node < nodes && v != 0.f) atomicAdd(grad_table + (node << k) + u, v);
  }
}

}  // namespace

// The largest k of the wired kernels and of the table-gradient tile (also used by efd_lookup_cuda.cu).
int64_t wired_max_k() { return kMaxK; }

// Shared with efd_lookup_cuda.cu: grad_table (N, 2**k), zeroed, += scale * grad at each (b, n)'s address.
void table_grad_cuda(const torch::Tensor& grad, const torch::Tensor& address, torch::Tensor& grad_table, int k,
                     double scale) {
  const int64_t batch = grad.size(0), nodes = grad.size(1);
  if (batch == 0 || nodes == 0) return;
  const dim3 block(kTileNodes, kTileRows);
  const dim3 grid(unsigned((nodes + kTileNodes - 1) / kTileNodes), unsigned((batch + kChunkRows - 1) / kChunkRows));
  const size_t shared = size_t(kTileNodes) * ((size_t(1) << k) + 1) * sizeof(float);
  table_grad_kernel<<<grid, block, shared, at::cuda::getCurrentCUDAStream()>>>(
      grad.data_ptr<float>(), address.data_ptr<int32_t>(), grad_table.data_ptr<float>(), batch, nodes, k,
      float(scale));
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

std::vector<torch::Tensor> wired_forward_cuda(torch::Tensor x, torch::Tensor columns, torch::Tensor table, bool hard) {
  const at::cuda::CUDAGuard guard(x.device());
  const int64_t batch = x.size(0), inputs = x.size(1), nodes = table.size(0);
  const int k = int(columns.size(0));
  auto out = torch::empty({batch, nodes}, x.options());
  auto address = torch::empty({batch, nodes}, x.options().dtype(torch::kInt32));
  if (batch * nodes > 0) {
    const Layout l = layout(batch, nodes, inputs);
    auto kernel = l.shared ? wired_forward_kernel<true> : wired_forward_kernel<false>;
    kernel<<<l.grid(), kThreads, l.shared_bytes(inputs), at::cuda::getCurrentCUDAStream()>>>(
        x.data_ptr<float>(), columns.data_ptr<int32_t>(), table.data_ptr<float>(), out.data_ptr<float>(),
        address.data_ptr<int32_t>(), nodes, inputs, k, hard, l.chunk);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
  return {out, address};
}

std::vector<torch::Tensor> wired_backward_cuda(torch::Tensor grad, torch::Tensor address, torch::Tensor factors,
                                               torch::Tensor columns, int64_t inputs, bool need_x, bool need_table,
                                               double scale) {
  const at::cuda::CUDAGuard guard(grad.device());
  const int64_t batch = grad.size(0), nodes = grad.size(1);
  const int k = int(columns.size(0));
  torch::Tensor grad_x, grad_table;
  if (need_x) {
    const Layout l = layout(batch, nodes, inputs);
    const bool store = l.shared && l.chunks == 1;
    grad_x = store ? torch::empty({batch, inputs}, grad.options()) : torch::zeros({batch, inputs}, grad.options());
    if (batch * nodes > 0 && l.fixed(inputs, k)) {
      const auto factor_max = factors.abs().amax();
      wired_input_grad_fixed_kernel<<<l.grid(), kThreads, 2 * l.shared_bytes(inputs),
                                      at::cuda::getCurrentCUDAStream()>>>(
          grad.data_ptr<float>(), address.data_ptr<int32_t>(), factors.data_ptr<float>(),
          columns.data_ptr<int32_t>(), factor_max.data_ptr<float>(), grad_x.data_ptr<float>(), nodes, inputs, k,
          float(scale), l.chunk, store);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    } else if (batch * nodes > 0) {
      auto kernel = l.shared ? wired_input_grad_kernel<true> : wired_input_grad_kernel<false>;
      kernel<<<l.grid(), kThreads, l.shared_bytes(inputs), at::cuda::getCurrentCUDAStream()>>>(
          grad.data_ptr<float>(), address.data_ptr<int32_t>(), factors.data_ptr<float>(),
          columns.data_ptr<int32_t>(), grad_x.data_ptr<float>(), nodes, inputs, k, float(scale), l.chunk, store);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
  }
  if (need_table) {
    grad_table = torch::zeros({nodes, int64_t(1) << k}, grad.options());
    table_grad_cuda(grad, address, grad_table, k, scale);
  }
  return {grad_x, grad_table};
}
