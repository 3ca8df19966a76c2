// Fused CUDA kernels of the EFD table lookup (difflut/nodes/efd.py, EFDLookup), float32.
//
// forward: one thread per (sample b, node n): address u = sum_j [x[b, n, j] >= 0.5] * 2**j,
//          out[b, n] = table[n, u] (or [table[n, u] >= 0] as 0/1 when hard), address[b, n] = u.
// backward: one thread per (b, n), g = scale * grad[b, n]:
//          grad_x[b, n, j] = g * factors[n, u, j]  (factors = efd_input_factors(table), computed by torch)
//          grad_table[n, u] += g                   (atomicAdd: samples reading one entry accumulate; for
//                                                   k <= 8 a shared-memory tile reduction, wired_lookup_cuda.cu)
// Every output value is a single product or an exact comparison, so forward outputs and grad_x equal
// the torch implementation's; grad_table sums in another order (float rounding only).
// backward as float16 parts (the learnable mapping's binary product, difflut/layers/learnable_layer.py):
//          a thread per (n, j) and kPartsSamples samples b, e = (b, n, j): v = grad_x[e] * column_scale[n * k + j]
//          (a power of two, exact), out[0, e] = f16(v), out[1, e] = f16(v - float(out[0, e])): the parts of
//          split_parts_cuda.cu's split_f16_scaled of grad_x, without writing grad_x in float32.
#include <torch/extension.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_fp16.h>

namespace {

constexpr int kThreads = 256;
constexpr int kPartsSamples = 4;  // samples per thread of the float16-parts kernel

__global__ void efd_forward_kernel(const float* __restrict__ x, const float* __restrict__ table,
                                   float* __restrict__ out, int32_t* __restrict__ address,
                                   int64_t total, int64_t nodes, int k, bool hard) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;  // i = b * nodes + n
  if (i >= total) return;
  const float* xi = x + i * k;
  int32_t u = 0;
  for (int j = 0; j < k; ++j) u |= int32_t(xi[j] >= 0.5f) << j;
  const int64_t n = i % nodes;
  const float v = table[(n << k) + u];
  out[i] = hard ? (v >= 0.f ? 1.f : 0.f) : v;
  address[i] = u;
}

__global__ void efd_backward_kernel(const float* __restrict__ grad, const int32_t* __restrict__ address,
                                    const float* __restrict__ factors, float* __restrict__ grad_x,
                                    float* __restrict__ grad_table, int64_t total, int64_t nodes, int k,
                                    float scale) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= total) return;
  const float g = grad[i] * scale;
  const int64_t n = i % nodes;
  const int64_t entry = (n << k) + address[i];
  if (grad_x != nullptr) {
    const float* f = factors + entry * k;
    float* gx = grad_x + i * k;
    for (int j = 0; j < k; ++j) gx[j] = g * f[j];
  }
  if (grad_table != nullptr) atomicAdd(grad_table + entry, g);
}

__global__ void efd_input_grad_f16_parts_kernel(const float* __restrict__ grad, const int32_t* __restrict__ address,
                                                const float* __restrict__ factors,
                                                const float* __restrict__ column_scale, __half* __restrict__ out,
                                                int64_t batch, int nodes, int k, float scale) {
  // block (c, r): samples c * kPartsSamples.., row entries e = r * blockDim.x + threadIdx.x = n * k + j
  const int e = blockIdx.y * blockDim.x + threadIdx.x;
  if (e >= nodes * k) return;
  const int n = e / k, j = e - n * k;
  const int64_t first = int64_t(blockIdx.x) * kPartsSamples, count = batch * nodes * k;
  const float s = column_scale[e];
  int32_t u[kPartsSamples];
  float g[kPartsSamples];
#pragma unroll
  for (int t = 0; t < kPartsSamples; ++t) {  // independent loads first: several in flight per thread
    const int64_t i = (first + t) * nodes + n;
    const bool in = first + t < batch;
    u[t] = in ? address[i] : 0;
    g[t] = in ? grad[i] * scale : 0.f;
  }
#pragma unroll
  for (int t = 0; t < kPartsSamples; ++t) {
    if (first + t >= batch) break;
    const float v = (g[t] * factors[((int64_t(n) << k) + u[t]) * k + j]) * s;
    const __half high = __float2half_rn(v);
    const int64_t at = ((first + t) * nodes + n) * k + j;
    out[at] = high;
    out[count + at] = __float2half_rn(v - __half2float(high));
  }
}

int blocks_for(int64_t total) { return int((total + kThreads - 1) / kThreads); }

}  // namespace

void table_grad_cuda(const torch::Tensor& grad, const torch::Tensor& address, torch::Tensor& grad_table, int k,
                     double scale);  // wired_lookup_cuda.cu, for k <= wired_max_k()
int64_t wired_max_k();

std::vector<torch::Tensor> efd_forward_cuda(torch::Tensor x, torch::Tensor table, bool hard) {
  const at::cuda::CUDAGuard guard(x.device());
  const int64_t batch = x.size(0), nodes = x.size(1), total = batch * nodes;
  const int k = int(x.size(2));
  auto out = torch::empty({batch, nodes}, x.options());
  auto address = torch::empty({batch, nodes}, x.options().dtype(torch::kInt32));
  if (total > 0) {
    efd_forward_kernel<<<blocks_for(total), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        x.data_ptr<float>(), table.data_ptr<float>(), out.data_ptr<float>(), address.data_ptr<int32_t>(), total,
        nodes, k, hard);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
  return {out, address};
}

std::vector<torch::Tensor> efd_backward_cuda(torch::Tensor grad, torch::Tensor address, torch::Tensor factors,
                                             int64_t table_size, bool need_x, bool need_table, double scale) {
  const at::cuda::CUDAGuard guard(grad.device());
  const int64_t batch = grad.size(0), nodes = grad.size(1), total = batch * nodes;
  int k = 0;
  while ((int64_t(1) << k) < table_size) ++k;
  torch::Tensor grad_x, grad_table;
  if (need_x) grad_x = torch::empty({batch, nodes, k}, grad.options());
  if (need_table) grad_table = torch::zeros({nodes, table_size}, grad.options());
  const bool tiled = need_table && k <= wired_max_k();  // table gradient by the shared-memory tile kernel
  if (total > 0 && (need_x || (need_table && !tiled))) {
    efd_backward_kernel<<<blocks_for(total), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        grad.data_ptr<float>(), address.data_ptr<int32_t>(), need_x ? factors.data_ptr<float>() : nullptr,
        need_x ? grad_x.data_ptr<float>() : nullptr, need_table && !tiled ? grad_table.data_ptr<float>() : nullptr,
        total, nodes, k, float(scale));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
  if (tiled) table_grad_cuda(grad, address, grad_table, k, scale);
  return {grad_x, grad_table};
}

torch::Tensor efd_backward_f16_parts_cuda(torch::Tensor grad, torch::Tensor address, torch::Tensor factors,
                                          torch::Tensor column_scale, double scale) {
  const at::cuda::CUDAGuard guard(grad.device());
  const int64_t batch = grad.size(0), nodes = grad.size(1);
  const int k = int(factors.size(2));
  auto out = torch::empty({2, batch, nodes * k}, grad.options().dtype(torch::kFloat16));
  const int64_t count = batch * nodes * k;
  if (count > 0) {
    const dim3 grid(unsigned((batch + kPartsSamples - 1) / kPartsSamples),
                    unsigned((nodes * k + kThreads - 1) / kThreads));
    efd_input_grad_f16_parts_kernel<<<grid, kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        grad.data_ptr<float>(), address.data_ptr<int32_t>(), factors.data_ptr<float>(),
        column_scale.data_ptr<float>(), reinterpret_cast<__half*>(out.data_ptr<at::Half>()), batch, int(nodes), k,
        float(scale));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
  return out;
}
