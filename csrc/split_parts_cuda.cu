// Splits of a float32 tensor into 16-bit parts for the learnable mapping's gradient product
// (difflut/layers/learnable_layer.py, split_tn), each in one pass, rounding to nearest even as torch's casts:
//   bfloat16: out[p] = bf16(r_p) with r_0 = a, r_{p+1} = r_p - float(bf16(r_p)); the parts sum to a up to
//             ~2**(-8 * parts) relative.
//   float16, scaled: a (K, M), scale (M,) powers of two: v = a[:, m] * scale[m] (exact),
//             out[0] = f16(v), out[1] = f16(v - float(out[0])); the parts sum to v up to ~2**-22 relative.
//   and back: out (M, N) float32 /= scale[m] per row (IEEE division, as torch's div_), four floats per
//             thread where rows allow.
#include <torch/extension.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <type_traits>

namespace {

constexpr int kThreads = 256;

unsigned blocks_for(int64_t count) { return unsigned((count + kThreads - 1) / kThreads); }

__global__ void split_bf16_kernel(const float* __restrict__ a, __nv_bfloat16* __restrict__ out, int64_t count,
                                  int parts) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= count) return;
  float rest = a[i];
  for (int p = 0; p < parts; ++p) {
    const __nv_bfloat16 part = __float2bfloat16_rn(rest);
    out[p * count + i] = part;
    rest -= __bfloat162float(part);
  }
}

__global__ void split_f16_scaled_kernel(const float* __restrict__ a, const float* __restrict__ scale,
                                        __half* __restrict__ out, int64_t count, int64_t columns) {
  const int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x;
  if (i >= count) return;
  const float v = a[i] * scale[i % columns];
  const __half high = __float2half_rn(v);
  out[i] = high;
  out[count + i] = __float2half_rn(v - __half2float(high));
}

// block (m, c): row m, kThreads vectors of `width` floats from c * kThreads
template <int width>
__global__ void unscale_rows_kernel(float* __restrict__ out, const float* __restrict__ scale, int64_t columns) {
  using Vector = std::conditional_t<width == 4, float4, float>;
  const int64_t v = int64_t(blockIdx.y) * blockDim.x + threadIdx.x;
  if (v * width >= columns) return;
  Vector* at = reinterpret_cast<Vector*>(out + int64_t(blockIdx.x) * columns) + v;
  const float s = scale[blockIdx.x];
  Vector x = *at;
  if constexpr (width == 4) {
    x.x = __fdiv_rn(x.x, s), x.y = __fdiv_rn(x.y, s), x.z = __fdiv_rn(x.z, s), x.w = __fdiv_rn(x.w, s);
  } else {
    x = __fdiv_rn(x, s);
  }
  *at = x;
}

}  // namespace

// a float32 (contiguous) -> (parts, *a.shape) bfloat16
torch::Tensor split_bf16_cuda(torch::Tensor a, int64_t parts) {
  const at::cuda::CUDAGuard guard(a.device());
  std::vector<int64_t> shape{parts};
  shape.insert(shape.end(), a.sizes().begin(), a.sizes().end());
  auto out = torch::empty(shape, a.options().dtype(torch::kBFloat16));
  const int64_t count = a.numel();
  if (count > 0) {
    split_bf16_kernel<<<blocks_for(count), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        a.data_ptr<float>(), reinterpret_cast<__nv_bfloat16*>(out.data_ptr<at::BFloat16>()), count, int(parts));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
  return out;
}

// a (K, M) float32, scale (M,) float32 (both contiguous) -> (2, K, M) float16
torch::Tensor split_f16_scaled_cuda(torch::Tensor a, torch::Tensor scale) {
  const at::cuda::CUDAGuard guard(a.device());
  auto out = torch::empty({2, a.size(0), a.size(1)}, a.options().dtype(torch::kFloat16));
  const int64_t count = a.numel();
  if (count > 0) {
    split_f16_scaled_kernel<<<blocks_for(count), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        a.data_ptr<float>(), scale.data_ptr<float>(), reinterpret_cast<__half*>(out.data_ptr<at::Half>()), count,
        a.size(1));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
  return out;
}

// out (M, N) float32 contiguous, scale (M,) float32: out[m, :] /= scale[m], in place
void unscale_rows_cuda(torch::Tensor out, torch::Tensor scale) {
  const at::cuda::CUDAGuard guard(out.device());
  const int64_t rows = out.size(0), columns = out.size(1);
  if (rows == 0 || columns == 0) return;
  const bool wide = columns % 4 == 0;
  const dim3 grid(unsigned(rows), unsigned((columns / (wide ? 4 : 1) + kThreads - 1) / kThreads));
  auto kernel = wide ? unscale_rows_kernel<4> : unscale_rows_kernel<1>;
  kernel<<<grid, kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(out.data_ptr<float>(), scale.data_ptr<float>(),
                                                                  columns);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}
