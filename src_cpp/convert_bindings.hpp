// Registers the frame conversion kernels (convert.hpp) in picam_ros._centroids.
#pragma once

#include <pybind11/pybind11.h>

void register_convert(pybind11::module_& m);
