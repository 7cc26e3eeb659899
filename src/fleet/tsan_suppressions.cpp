// ThreadSanitizer suppressions for programs that link the fleet component, compiled into each of
// them in ThreadSanitizer builds only (TSan asks for them through this weak hook). gRPC, protobuf,
// Abseil and OpenSSL come from Debian, built without TSan: TSan cannot see their synchronisation and reports
// races inside them, and in the gRPC templates inlined into our code, that are not races. Our own
// code stays checked.

extern "C" const char* __tsan_default_suppressions();  // NOLINT(bugprone-reserved-identifier)

extern "C" const char* __tsan_default_suppressions() {  // NOLINT(bugprone-reserved-identifier)
  return "race:libgrpc.so\n"
         "race:libgrpc++.so\n"
         "race:libgpr.so\n"
         "race:libabsl_\n"
         "race:libprotobuf.so\n"
         "race:libssl.so\n"
         "race:libcrypto.so\n"
         "race:grpc::\n"
         "race:grpc_core::\n"
         "race:grpc_event_engine::\n"
         "race:absl::\n"
         "called_from_lib:libgrpc.so\n"
         "called_from_lib:libgpr.so\n"
         "called_from_lib:libssl.so\n"
         "called_from_lib:libcrypto.so\n"
         "deadlock:libgrpc.so\n"
         "deadlock:libgpr.so\n"
         "deadlock:libabsl_\n";
}
