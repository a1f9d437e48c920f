# Configures and builds c_examples in an empty directory, as a new user would: the build must run cargo
# itself, with the profile the build type asks for. Prints cargo's profile line, the cargo profile directory
# the host's run path names, and whether the host tests of that build pass.
#
#   cmake -DSOURCE_DIR=c_examples -DBINARY_DIR=dir -DBUILD_TYPE=Release -DGENERATOR="Unix Makefiles"
#         -DC_COMPILER=cc -DCXX_COMPILER=c++ -DCARGO_TARGET_DIR=target -DZIG_CACHE_DIR=dir
#         -DRUST_PLUGIN_TARGET_DIR=dir -P standalone_build.cmake
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n${out}")
  endif()
  set(output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${BINARY_DIR}")
run("configure" "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${BINARY_DIR}" -G "${GENERATOR}"
    -DCMAKE_BUILD_TYPE=${BUILD_TYPE} -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_CXX_COMPILER=${CXX_COMPILER}
    -DAISOPOD_STANDALONE_TESTS=OFF -DAISOPOD_CARGO_TARGET_DIR=${CARGO_TARGET_DIR}
    -DAISOPOD_ZIG_CACHE_DIR=${ZIG_CACHE_DIR} -DAISOPOD_RUST_PLUGIN_TARGET_DIR=${RUST_PLUGIN_TARGET_DIR})
run("build" "${CMAKE_COMMAND}" --build "${BINARY_DIR}" -j 2)
string(REGEX MATCH "Finished `[a-z]+` profile" cargo_ran "${output}")
if(NOT cargo_ran)
  message(FATAL_ERROR "the build did not run cargo:\n${output}")
endif()
message(STATUS "standalone ${BUILD_TYPE} build: cargo ran: ${cargo_ran}")

run("readelf" readelf -d "${BINARY_DIR}/host")
string(REGEX MATCH "R(UN)?PATH[^[]*\\[([^]]*)\\]" runpath "${output}")
get_filename_component(linked_dir "${CMAKE_MATCH_2}" REALPATH)
message(STATUS "standalone ${BUILD_TYPE} build: host linked against ${linked_dir}")

run("ctest" "${CMAKE_COMMAND}" -E chdir "${BINARY_DIR}" ctest -R "^(host|host_static)$" --output-on-failure)
string(REGEX MATCH "100% tests passed, 0 tests failed out of 2" passed "${output}")
if(NOT passed)
  message(FATAL_ERROR "ctest did not run both host tests:\n${output}")
endif()
message(STATUS "standalone ${BUILD_TYPE} build: host and host_static passed")
