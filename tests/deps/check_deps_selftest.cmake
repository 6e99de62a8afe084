# The component-deps check on fixture/ (components alpha < beta < gamma): it passes when the
# DEPS match the includes, and fails, naming the difference, when a DEPS list misses a
# component that is included or lists one that is not.
#   cmake -DCHECKER=<CheckComponentDeps.cmake> -DFIXTURE=<fixture dir> -DWORK_DIR=<dir> -P check_deps_selftest.cmake

cmake_minimum_required(VERSION 3.25)
file(MAKE_DIRECTORY ${WORK_DIR})

# Runs the checker with these DEPS lines; expects exit status 0 (`expect_ok`) or not, and each
# regular expression in ARGN in its output.
function(run_case name deps_text expect_ok)
  file(WRITE ${WORK_DIR}/${name}.txt "${deps_text}")
  execute_process(COMMAND ${CMAKE_COMMAND} -DROOT=${FIXTURE} -DDEPS_FILE=${WORK_DIR}/${name}.txt -P ${CHECKER}
                  RESULT_VARIABLE status OUTPUT_VARIABLE out ERROR_VARIABLE err)
  set(output "${out}${err}")
  message("--- case ${name} (exit ${status}):\n${output}")
  if(expect_ok AND NOT status EQUAL 0)
    message(FATAL_ERROR "case ${name}: the check failed on a tree that keeps the rule")
  endif()
  if(NOT expect_ok AND status EQUAL 0)
    message(FATAL_ERROR "case ${name}: the check passed a tree that breaks the rule")
  endif()
  foreach(expected IN LISTS ARGN)
    if(NOT output MATCHES "${expected}")
      message(FATAL_ERROR "case ${name}: the output does not say \"${expected}\"")
    endif()
  endforeach()
endfunction()

run_case(matching "alpha:\nbeta: alpha\ngamma: beta\n" TRUE
  "3 components, each DEPS list matches its includes")
# gamma's private header includes beta.hpp, but gamma's DEPS do not list beta.
run_case(missing "alpha:\nbeta: alpha\ngamma:\n" FALSE
  "src/gamma/private.hpp includes k3s_daas/beta.hpp \\(component beta\\), but the DEPS of gamma do not list beta")
# beta's public header includes alpha.hpp: beta needs alpha too.
run_case(missing_public "alpha:\nbeta:\ngamma: beta\n" FALSE
  "include/k3s_daas/beta.hpp includes k3s_daas/alpha.hpp \\(component alpha\\), but the DEPS of beta do not list alpha")
# gamma lists alpha, which none of its code includes (beta's header including it is beta's business).
run_case(extra "alpha:\nbeta: alpha\ngamma: beta alpha\n" FALSE
  "the DEPS of gamma list alpha, but no code of gamma includes a header of alpha")
# alpha, the bottom, may not use gamma (even if it included gamma's header).
run_case(upward "alpha: gamma\nbeta: alpha\ngamma: beta\n" FALSE
  "the DEPS of alpha list gamma, which does not come before alpha in K3S_DAAS_COMPONENTS")
message("component deps self-test: the check passes the matching tree and fails each broken one")
