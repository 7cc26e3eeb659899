#pragma once

// PORTPOOL_DECL marks the definitions of the core's non-template functions (the bodies of
// PortLease, PortLock, FileLockPolicy, BindProbe, IpAddress and the default PortPoolManager).
// Header-only (the default), they are inline and every unit that includes a header compiles them.
// With PORTPOOL_SEPARATE_COMPILATION defined for every unit of a program, the headers stop at the
// declarations and the one unit that includes <portpool/src.hpp> compiles the bodies, once: what a
// program with many units including portpool saves is most of the cost of each include, which is
// the code of those bodies, not their declarations.

#if defined(PORTPOOL_SEPARATE_COMPILATION)
#define PORTPOOL_DECL
#else
#define PORTPOOL_DECL inline
#endif
