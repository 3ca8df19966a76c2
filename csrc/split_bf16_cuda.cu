// Split of a float32 tensor into bfloat16 parts (difflut/layers/learnable_layer.py, split_bf16_tn), in one pass:
// out[p] = bf16(r_p) with r_0 = a, r_{p+1} = r_p - float(bf16(r_p)) (round to nearest even, as torch's
// .to(torch.bfloat16)); the parts sum to a up to ~2**(-8 * parts) relative.
#include <torch/extension.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_bf16.h>

namespace {

constexpr int kThreads = 256;

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

}  // namespace

// a float32 (contiguous) -> (parts, *a.shape) bfloat16
torch::Tensor split_bf16_cuda(torch::Tensor a, int64_t parts) {
  const at::cuda::CUDAGuard guard(a.device());
  std::vector<int64_t> shape{parts};
  shape.insert(shape.end(), a.sizes().begin(), a.sizes().end());
  auto out = torch::empty(shape, a.options().dtype(torch::kBFloat16));
  const int64_t count = a.numel();
  if (count > 0) {
    split_bf16_kernel<<<unsigned((count + kThreads - 1) / kThreads), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        a.data_ptr<float>(), reinterpret_cast<__nv_bfloat16*>(out.data_ptr<at::BFloat16>()), count, int(parts));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
  return out;
}
