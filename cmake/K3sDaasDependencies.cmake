# Every external library comes from a Debian 12 package; scripts/install-deps.sh installs them.
# A missing one stops the configure step with the name of the package to install.
find_package(PkgConfig REQUIRED)

macro(k3s_daas_require_pkgconfig var module debian_package)
  pkg_check_modules(${var} IMPORTED_TARGET ${module})
  if(NOT ${var}_FOUND)
    message(FATAL_ERROR "k3s-daas needs ${module}: install the Debian package '${debian_package}' "
                        "(or run scripts/install-deps.sh)")
  endif()
endmacro()

macro(k3s_daas_require_cmake package debian_package)
  find_package(${package} ${ARGN} QUIET)
  if(NOT ${package}_FOUND)
    message(FATAL_ERROR "k3s-daas needs ${package}: install the Debian package '${debian_package}' "
                        "(or run scripts/install-deps.sh)")
  endif()
endmacro()

k3s_daas_require_pkgconfig(CURL libcurl libcurl4-openssl-dev)
k3s_daas_require_pkgconfig(SODIUM libsodium libsodium-dev)
k3s_daas_require_pkgconfig(CBOR libcbor libcbor-dev)
k3s_daas_require_pkgconfig(SYSTEMD libsystemd libsystemd-dev)
k3s_daas_require_cmake(OpenSSL libssl-dev 3.0)
k3s_daas_require_cmake(nlohmann_json nlohmann-json3-dev 3.10)
k3s_daas_require_cmake(CLI11 libcli11-dev)
k3s_daas_require_cmake(spdlog libspdlog-dev)
k3s_daas_require_cmake(doctest doctest-dev)
k3s_daas_require_cmake(prometheus-cpp prometheus-cpp-dev)
k3s_daas_require_cmake(Threads libc6-dev)
# gRPC and protobuf are found by the runtime component, which generates the containerd stubs.
