// Python binding of DiffLUT's CUDA kernels: the fused EFD table lookup (efd_lookup_cuda.cu, wired_lookup_cuda.cu;
// semantics: difflut/nodes/efd.py, EFDLookup and WiredEFDLookup) and the 16-bit splits of the learnable
// mapping's gradient product (split_parts_cuda.cu, efd_lookup_cuda.cu; difflut/layers/learnable_layer.py).
// They compute the values of the torch implementations.
#include <torch/extension.h>

std::vector<torch::Tensor> efd_forward_cuda(torch::Tensor x, torch::Tensor table, bool hard);
std::vector<torch::Tensor> efd_backward_cuda(torch::Tensor grad, torch::Tensor address, torch::Tensor factors,
                                             int64_t table_size, bool need_x, bool need_table, double scale);
std::vector<torch::Tensor> wired_forward_cuda(torch::Tensor x, torch::Tensor columns, torch::Tensor table, bool hard);
std::vector<torch::Tensor> wired_backward_cuda(torch::Tensor grad, torch::Tensor address, torch::Tensor factors,
                                               torch::Tensor columns, int64_t inputs, bool need_x, bool need_table,
                                               double scale);
torch::Tensor efd_backward_f16_parts_cuda(torch::Tensor grad, torch::Tensor address, torch::Tensor factors,
                                          torch::Tensor column_scale, double scale);
torch::Tensor split_bf16_cuda(torch::Tensor a, int64_t parts);
torch::Tensor split_f16_scaled_cuda(torch::Tensor a, torch::Tensor scale);
void unscale_rows_cuda(torch::Tensor out, torch::Tensor scale);

int64_t wired_max_k();  // wired_lookup_cuda.cu: k limit of the wired kernels and of the table-gradient tile

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

// grad (B, N) float32, address (B, N) int32, factors (N, 2**k, k) float32, column_scale (N * k,) float32 powers
// of two -> (2, B, N * k) float16: split_f16_scaled(grad_x.view(B, N * k), column_scale) of efd_backward's grad_x
torch::Tensor efd_backward_f16_parts(torch::Tensor grad, torch::Tensor address, torch::Tensor factors,
                                     torch::Tensor column_scale, double scale) {
  check(grad, "grad", torch::kFloat32, 2);
  check(address, "address", torch::kInt32, 2);
  check(factors, "factors", torch::kFloat32, 3);
  check(column_scale, "column_scale", torch::kFloat32, 1);
  TORCH_CHECK(grad.sizes() == address.sizes(), "grad and address must have the same shape");
  const int64_t k = factors.size(2);
  TORCH_CHECK(k >= 1 && k <= 16 && factors.size(0) == grad.size(1) && factors.size(1) == (int64_t(1) << k),
              "factors must be (N, 2**k, k)");
  TORCH_CHECK(column_scale.size(0) == grad.size(1) * k, "column_scale must have N * k entries");
  TORCH_CHECK(grad.size(1) * k <= 65535 * 256 && grad.size(0) < (int64_t(1) << 31),
              "at most 65535 * 256 node inputs and 2**31 - 1 samples");
  TORCH_CHECK(grad.device() == address.device() && grad.device() == factors.device() &&
                  grad.device() == column_scale.device(),
              "grad, address, factors and column_scale must be on the same device");
  return efd_backward_f16_parts_cuda(grad, address, factors, column_scale, scale);
}

// x (B, M) float32, columns (k, N) int32 (node n's input j reads x[:, columns[j, n]]), table (N, 2**k) float32
// -> [out (B, N) float32, address (B, N) int32]
std::vector<torch::Tensor> wired_forward(torch::Tensor x, torch::Tensor columns, torch::Tensor table, bool hard) {
  check(x, "x", torch::kFloat32, 2);
  check(columns, "columns", torch::kInt32, 2);
  check(table, "table", torch::kFloat32, 2);
  const int64_t k = columns.size(0);
  TORCH_CHECK(k >= 1 && k <= wired_max_k(), "k must be in 1..", wired_max_k(), ", got ", k);
  TORCH_CHECK(table.size(0) == columns.size(1) && table.size(1) == (int64_t(1) << k),
              "table must be (N, 2**k) = (", columns.size(1), ", ", (int64_t(1) << k), ")");
  TORCH_CHECK(x.device() == table.device() && x.device() == columns.device(), "operands must share a device");
  return wired_forward_cuda(x, columns, table, hard);
}

// grad (B, N), address (B, N) int32, factors (N, 2**k, 8) (the EFD factors zero-padded; may be empty if !need_x),
// columns (k, N) int32 as in
// wired_forward, inputs M -> [grad_x (B, M) or empty, grad_table (N, 2**k) or empty]
std::vector<torch::Tensor> wired_backward(torch::Tensor grad, torch::Tensor address, torch::Tensor factors,
                                          torch::Tensor columns, int64_t inputs, bool need_x, bool need_table,
                                          double scale) {
  check(grad, "grad", torch::kFloat32, 2);
  check(address, "address", torch::kInt32, 2);
  check(columns, "columns", torch::kInt32, 2);
  const int64_t k = columns.size(0);
  TORCH_CHECK(k >= 1 && k <= wired_max_k(), "k must be in 1..", wired_max_k(), ", got ", k);
  TORCH_CHECK(grad.sizes() == address.sizes(), "grad and address must have the same shape");
  TORCH_CHECK(columns.size(1) == grad.size(1), "columns must be (k, N)");
  TORCH_CHECK(inputs >= 0, "inputs must be >= 0");
  if (need_x) {
    check(factors, "factors", torch::kFloat32, 3);
    TORCH_CHECK(factors.size(0) == grad.size(1) && factors.size(1) == (int64_t(1) << k) && factors.size(2) == 8,
                "factors must be (N, 2**k, 8): the EFD factors padded to 8 per entry");
  }
  return wired_backward_cuda(grad, address, factors, columns, inputs, need_x, need_table, scale);
}

// a float32 -> (parts, *a.shape) bfloat16 whose float sum is a up to ~2**(-8 * parts) relative
torch::Tensor split_bf16(torch::Tensor a, int64_t parts) {
  TORCH_CHECK(a.is_cuda() && a.scalar_type() == torch::kFloat32 && a.is_contiguous(),
              "a must be a contiguous float32 CUDA tensor");
  TORCH_CHECK(parts >= 1 && parts <= 3, "parts must be in 1..3, got ", parts);
  return split_bf16_cuda(a, parts);
}

// a (K, M) float32, scale (M,) float32 powers of two -> (2, K, M) float16 whose float sum is a * scale
// (column-wise) up to ~2**-22 relative
torch::Tensor split_f16_scaled(torch::Tensor a, torch::Tensor scale) {
  TORCH_CHECK(a.is_cuda() && a.scalar_type() == torch::kFloat32 && a.is_contiguous() && a.dim() == 2,
              "a must be a contiguous 2-d float32 CUDA tensor");
  TORCH_CHECK(scale.device() == a.device() && scale.scalar_type() == torch::kFloat32 && scale.is_contiguous() &&
                  scale.dim() == 1 && scale.size(0) == a.size(1),
              "scale must be a contiguous float32 vector of a's columns, on a's device");
  return split_f16_scaled_cuda(a, scale);
}

// out (M, N) float32 (contiguous, CUDA), scale (M,) float32 -> out[m, :] /= scale[m] in place
void unscale_rows(torch::Tensor out, torch::Tensor scale) {
  check(out, "out", torch::kFloat32, 2);
  check(scale, "scale", torch::kFloat32, 1);
  TORCH_CHECK(scale.size(0) == out.size(0) && scale.device() == out.device(),
              "scale must have one entry per row of out, on out's device");
  TORCH_CHECK(out.size(0) < (int64_t(1) << 31) && out.size(1) <= 65535 * 256, "out has too many rows or columns");
  unscale_rows_cuda(out, scale);
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &efd_forward, "EFD lookup forward: (x, table, hard) -> [out, address]");
  m.def("backward", &efd_backward,
        "EFD lookup backward: (grad, address, factors, table_size, need_x, need_table, scale) -> [grad_x, grad_table]");
  m.def("backward_f16_parts", &efd_backward_f16_parts,
        "EFD input gradient as scaled float16 parts: (grad, address, factors, column_scale, scale) -> (2, B, N * k)");
  m.def("wired_forward", &wired_forward, "wired EFD lookup forward: (x, columns, table, hard) -> [out, address]");
  m.def("wired_backward", &wired_backward,
        "wired EFD lookup backward: (grad, address, factors, columns, inputs, need_x, need_table, scale) "
        "-> [grad_x, grad_table]");
  m.attr("max_wired_k") = wired_max_k();
  m.def("split_bf16", &split_bf16, "(a float32, parts) -> (parts, *a.shape) bfloat16 parts summing to a");
  m.def("split_f16_scaled", &split_f16_scaled,
        "(a (K, M) float32, scale (M,)) -> (2, K, M) float16 parts summing to a * scale");
  m.def("unscale_rows", &unscale_rows, "(out (M, N) float32, scale (M,)): out[m, :] /= scale[m] in place");
}
