// onnxruntime's round-to-nearest for MatMulNBits with uint8 zero points, reproduced from the facts
// of MLAS's BlockwiseQuantizer (range2scalezp and quantizeAndTranspose), which onnxruntime's Python
// quantizer (matmul_nbits_quantizer.py, the default RTN) calls. Its Python side pads K with zeros
// up to a whole block; because the range always includes 0, that padding changes neither the
// scale nor the zero point, so computing the statistics over the real weights only is the same
// quantization.
#include <algorithm>
#include <cmath>

#include "nbits/block.hpp"
#include "nbits/geometry.hpp"

namespace hqq::nbits::detail {

IntBlock rtn_block(const float* w, std::size_t len, int max_q, ScaleType st, uint8_t* q) noexcept {
  float mn = w[0], mx = w[0];
  for (std::size_t i = 1; i < len; ++i) {
    mn = w[i] < mn ? w[i] : mn;
    mx = w[i] > mx ? w[i] : mx;
  }
  mn = std::min(mn, 0.0f);
  mx = std::max(mx, 0.0f);
  const float max_qf = static_cast<float>(max_q);
  const float scale_f = (mx - mn) / max_qf;
  float zp_f = mn;
  if (scale_f != 0.0f) zp_f = 0.0f - mn / scale_f;
  IntBlock b;
  b.zero = zp_f < 0.0f ? 0 : zp_f > max_qf ? max_q : static_cast<int>(round_half_away(zp_f));
  b.scale = to_stored(scale_f, st);
  b.scale_f32 = scale_f;
  // The levels use the stored scale, as MLAS reads it back from the output array.
  const float recip = b.scale != 0.0f ? 1.0f / b.scale : 0.0f;
  const float zf = static_cast<float>(b.zero);
  for (std::size_t i = 0; i < len; ++i) {
    const float v = round_half_away(w[i] * recip + zf);
    q[i] = static_cast<uint8_t>(std::clamp(v, 0.0f, max_qf));
  }
  return b;
}

}  // namespace hqq::nbits::detail
