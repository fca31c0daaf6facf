#pragma once
// The whole public API.
#include "nmfuse/checkpoint.hpp"
#include "nmfuse/consensus.hpp"
#include "nmfuse/device.hpp"
#include "nmfuse/errors.hpp"
#include "nmfuse/factorize.hpp"
#include "nmfuse/options.hpp"
#include "nmfuse/rank_survey.hpp"
#include "nmfuse/result.hpp"
#include "nmfuse/sparse.hpp"
#include "nmfuse/view.hpp"
