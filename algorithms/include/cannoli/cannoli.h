/*
 * cannoli/cannoli.h — the whole public API of libcannoli.
 *
 * The library includes nothing from libyaml, HDF5 or the harness; it needs a
 * C11 compiler and (optionally) OpenMP.
 */
#ifndef CANNOLI_CANNOLI_H
#define CANNOLI_CANNOLI_H

#include "cannoli/common.h"
#include "cannoli/index.h"
#include "cannoli/io.h"
#include "cannoli/params.h"
#include "cannoli/quantizer.h"
#include "cannoli/registry.h"
#include "cannoli/simd.h"
#include "cannoli/store.h"

#define CN_VERSION_STRING "0.1.0"

#endif
