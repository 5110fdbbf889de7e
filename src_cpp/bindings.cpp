// pybind11 bindings for picam_ros._centroids (placeholder until the engine lands).
#include <pybind11/pybind11.h>

PYBIND11_MODULE(_centroids, m) {
    m.doc() = "picam_ros native kernels";
}
