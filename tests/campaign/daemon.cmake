# Daemon fault campaign (issue 13 item 2, `k3s-daas run`): the real binary against the Sui and
# Nautilus-master stand-ins, Debian's containerd and tests/fake-k3s, a STAND-IN for k3s
# (tests/daemon/daemon_world.hpp). Counts and times: the top of each test file and
# docs/reliability.md.
if(NOT TARGET fake-k3s)
  add_subdirectory(${PROJECT_SOURCE_DIR}/tests/fake-k3s ${PROJECT_BINARY_DIR}/tests/fake-k3s)
endif()
function(k3s_daas_campaign_daemon_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT;COST" "SOURCES" ${ARGN})
  set(dir ${PROJECT_SOURCE_DIR}/tests/campaign)
  list(TRANSFORM ARG_SOURCES PREPEND ${dir}/)
  k3s_daas_unit_test(${name} SOURCES ${ARG_SOURCES}
    ${PROJECT_SOURCE_DIR}/tests/runtime/runtime_test_support.cpp
    ${PROJECT_SOURCE_DIR}/tests/supervisor/supervisor_test_support.cpp
    DEPS k3s_daas_daemon LABELS "campaign;daemon;peers;containerd;fake-k3s" TIMEOUT ${ARG_TIMEOUT})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/daemon ${PROJECT_SOURCE_DIR}/tests/runtime
    ${PROJECT_SOURCE_DIR}/tests/supervisor ${PROJECT_SOURCE_DIR}/tests/master)
  target_compile_definitions(${name} PRIVATE K3S_DAAS_FAKE_K3S="$<TARGET_FILE:fake-k3s>"
    K3S_DAAS_TEST_DRIVER="$<TARGET_FILE:supervisor-test-driver>")
  add_dependencies(${name} k3s-daas fake-k3s)
  set_tests_properties(${name} PROPERTIES COST ${ARG_COST})  # seconds here: ctest -j starts long ones first
endfunction()

k3s_daas_campaign_daemon_test(daemon_chain_faults SOURCES daemon_chain_faults_test.cpp TIMEOUT 600 COST 180)
k3s_daas_campaign_daemon_test(daemon_soak_kills SOURCES daemon_soak_kills_test.cpp TIMEOUT 400 COST 100)
k3s_daas_campaign_daemon_test(daemon_kill_points SOURCES daemon_kill_points_test.cpp TIMEOUT 150 COST 25)
k3s_daas_campaign_daemon_test(daemon_host_faults SOURCES host_faults_test.cpp TIMEOUT 150 COST 40)
