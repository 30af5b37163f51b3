# Finds Debian's BoringSSL (android-libboringssl-dev): headers under /usr/include/android, libraries under
# /usr/lib/<multiarch>/android, no pkg-config file. Defines BoringSSL::ssl and BoringSSL::crypto.
# The libraries live outside the linker's default path, so consumers get an RPATH to them.
include(FindPackageHandleStandardArgs)

find_path(BoringSSL_INCLUDE_DIR openssl/base.h
  PATHS /usr/include/android NO_DEFAULT_PATH)
find_library(BoringSSL_CRYPTO_LIBRARY NAMES crypto
  PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/android /usr/lib/x86_64-linux-gnu/android NO_DEFAULT_PATH)
find_library(BoringSSL_SSL_LIBRARY NAMES ssl
  PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/android /usr/lib/x86_64-linux-gnu/android NO_DEFAULT_PATH)

find_package_handle_standard_args(BoringSSL
  REQUIRED_VARS BoringSSL_INCLUDE_DIR BoringSSL_CRYPTO_LIBRARY BoringSSL_SSL_LIBRARY)

if(BoringSSL_FOUND)
  get_filename_component(BoringSSL_LIBRARY_DIR ${BoringSSL_CRYPTO_LIBRARY} DIRECTORY)
  if(NOT TARGET BoringSSL::crypto)
    add_library(BoringSSL::crypto SHARED IMPORTED)
    set_target_properties(BoringSSL::crypto PROPERTIES
      IMPORTED_LOCATION ${BoringSSL_CRYPTO_LIBRARY}
      IMPORTED_NO_SONAME FALSE
      INTERFACE_INCLUDE_DIRECTORIES ${BoringSSL_INCLUDE_DIR}
      INTERFACE_LINK_OPTIONS "LINKER:-rpath,${BoringSSL_LIBRARY_DIR}")
  endif()
  if(NOT TARGET BoringSSL::ssl)
    add_library(BoringSSL::ssl SHARED IMPORTED)
    set_target_properties(BoringSSL::ssl PROPERTIES
      IMPORTED_LOCATION ${BoringSSL_SSL_LIBRARY}
      INTERFACE_INCLUDE_DIRECTORIES ${BoringSSL_INCLUDE_DIR}
      INTERFACE_LINK_LIBRARIES BoringSSL::crypto)
  endif()
endif()
mark_as_advanced(BoringSSL_INCLUDE_DIR BoringSSL_CRYPTO_LIBRARY BoringSSL_SSL_LIBRARY)
