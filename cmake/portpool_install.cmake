include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(portpool_cmake_dir "${CMAKE_INSTALL_DATADIR}/cmake/portpool")

install(TARGETS portpool EXPORT portpool-targets)
install(DIRECTORY include/portpool DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(EXPORT portpool-targets NAMESPACE portpool:: DESTINATION "${portpool_cmake_dir}")
if(TARGET portpool_config)
  # A separate export file, loaded only where toml++ is found: see portpool-config.cmake.in.
  install(TARGETS portpool_config EXPORT portpool-config-component-targets)
  install(EXPORT portpool-config-component-targets NAMESPACE portpool:: DESTINATION "${portpool_cmake_dir}")
endif()

if(TARGET portpool_fleet)
  # The fleet component and the etcd API code it links; loaded only where gRPC is found.
  install(TARGETS portpool_fleet portpool_etcd_api EXPORT portpool-fleet-component-targets
          ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}")
  install(EXPORT portpool-fleet-component-targets NAMESPACE portpool:: DESTINATION "${portpool_cmake_dir}")
endif()

configure_package_config_file(cmake/portpool-config.cmake.in
  "${CMAKE_CURRENT_BINARY_DIR}/portpool-config.cmake"
  INSTALL_DESTINATION "${portpool_cmake_dir}")
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/portpool-config-version.cmake"
  COMPATIBILITY SameMajorVersion
  ARCH_INDEPENDENT)
install(FILES
  "${CMAKE_CURRENT_BINARY_DIR}/portpool-config.cmake"
  "${CMAKE_CURRENT_BINARY_DIR}/portpool-config-version.cmake"
  DESTINATION "${portpool_cmake_dir}")

configure_file(cmake/portpool.pc.in "${CMAKE_CURRENT_BINARY_DIR}/portpool.pc" @ONLY)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/portpool.pc" DESTINATION "${CMAKE_INSTALL_DATADIR}/pkgconfig")
