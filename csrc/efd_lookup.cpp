// Python binding of the fused EFD table-lookup kernels (efd_lookup_cuda.cu).
// Semantics: difflut/nodes/efd.py (EFDLookup); these kernels compute the same values.
#include <torch/extension.h>

std::vector<torch::Tensor> efd_forward_cuda(torch::Tensor x, torch::Tensor table, bool hard);
std::vector<torch::Tensor> efd_backward_cuda(torch::Tensor grad, torch::Tensor address, torch::Tensor factors,
                                             int64_t table_size, bool need_x, bool need_table, double scale);

static void check(const torch::Tensor& t, const char* name, c10::ScalarType dtype, int64_t dim) {
  TORCH_CHECK(t.is_cuda(), name, " must be a CUDA tensor");
  TORCH_CHECK(t.scalar_type() == dtype, name, " has dtype ", t.scalar_type(), ", expected ", dtype);
  TORCH_CHECK(t.dim() == dim, name, " must have ", dim, " dimensions, got ", t.dim());
  TORCH_CHECK(t.is_contiguous(), name, " must be contiguous");
}

// x (B, N, k) float32, table (N, 2**k) float32 -> [out (B, N) float32, address (B, N) int32]
std::vector<torch::Tensor> efd_forward(torch::Tensor x, torch::Tensor table, bool hard) {
  check(x, "x", torch::kFloat32, 3);
  check(table, "table", torch::kFloat32, 2);
  const int64_t k = x.size(2);
  TORCH_CHECK(k >= 1 && k <= 16, "k must be in 1..16, got ", k);
  TORCH_CHECK(table.size(0) == x.size(1) && table.size(1) == (int64_t(1) << k),
              "table must be (N, 2**k) = (", x.size(1), ", ", (int64_t(1) << k), "), got (", table.size(0), ", ",
              table.size(1), ")");
  TORCH_CHECK(x.device() == table.device(), "x and table must be on the same device");
  return efd_forward_cuda(x, table, hard);
}

// grad (B, N) float32, address (B, N) int32, factors (N, 2**k, k) float32 (not read, may be empty, if !need_x)
// -> [grad_x (B, N, k) or empty, grad_table (N, 2**k) or empty]
std::vector<torch::Tensor> efd_backward(torch::Tensor grad, torch::Tensor address, torch::Tensor factors,
                                        int64_t table_size, bool need_x, bool need_table, double scale) {
  check(grad, "grad", torch::kFloat32, 2);
  check(address, "address", torch::kInt32, 2);
  TORCH_CHECK(grad.sizes() == address.sizes(), "grad and address must have the same shape");
  if (need_x) {
    check(factors, "factors", torch::kFloat32, 3);
    TORCH_CHECK(factors.size(0) == grad.size(1) && factors.size(1) == table_size, "factors must be (N, 2**k, k)");
  }
  return efd_backward_cuda(grad, address, factors, table_size, need_x, need_table, scale);
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &efd_forward, "EFD lookup forward: (x, table, hard) -> [out, address]");
  m.def("backward", &efd_backward,
        "EFD lookup backward: (grad, address, factors, table_size, need_x, need_table, scale) -> [grad_x, grad_table]");
}
