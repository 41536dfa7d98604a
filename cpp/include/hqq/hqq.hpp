// Umbrella header of the hqq core library.
#pragma once

#include "hqq/config.hpp"
#include "hqq/dtype.hpp"
#include "hqq/error.hpp"
#include "hqq/gguf.hpp"
#include "hqq/nbits.hpp"
#include "hqq/pack.hpp"
#include "hqq/quantize.hpp"
