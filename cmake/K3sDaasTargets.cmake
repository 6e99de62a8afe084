# Helpers shared by every component's CMakeLists.txt.

# Warnings are errors in our own code (never in generated or third-party code).
function(k3s_daas_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wno-missing-field-initializers)
endfunction()

# k3s_daas_component(NAME DEPS <targets...>)
# Builds src/NAME/*.cpp into the static library k3s_daas_NAME. Public headers live in
# include/k3s_daas/; private headers stay beside the sources.
function(k3s_daas_component name)
  cmake_parse_arguments(ARG "" "" "DEPS;SOURCES" ${ARGN})
  file(GLOB sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  add_library(k3s_daas_${name} STATIC ${sources} ${ARG_SOURCES})
  target_include_directories(k3s_daas_${name}
    PUBLIC ${PROJECT_SOURCE_DIR}/include ${PROJECT_BINARY_DIR}/generated
    PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
  target_link_libraries(k3s_daas_${name} PUBLIC ${ARG_DEPS})
  k3s_daas_warnings(k3s_daas_${name})
endfunction()

# k3s_daas_unit_test(NAME SOURCES <files> DEPS <targets> [LABELS <labels>] [TIMEOUT s])
# A doctest executable registered with ctest.
function(k3s_daas_unit_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} k3s_daas_test_main)
  k3s_daas_warnings(${name})
  add_test(NAME ${name} COMMAND ${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  if("sanitize" IN_LIST ARG_LABELS)
    # Pure in-process tests: also run in the AddressSanitizer/UBSan build (scripts/test.sh).
    set_property(GLOBAL APPEND PROPERTY K3S_DAAS_SANITIZE_TARGETS ${name})
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${ARG_TIMEOUT}
    LABELS "unit;${ARG_LABELS}"
    ENVIRONMENT "K3S_DAAS_SOURCE_DIR=${PROJECT_SOURCE_DIR};K3S_DAAS_BINARY=$<TARGET_FILE:k3s-daas>;K3S_DAAS_SHARED_DIR=${PROJECT_SOURCE_DIR}/../shared")
endfunction()
