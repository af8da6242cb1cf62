# Reads core/backends.list, the one list of backends, and generates
# <build>/generated/core/backend_list.h: every backend header included,
# KB_FOR_EACH_BACKEND(X), KB_NBACKENDS, KB_BACKEND_ID_<name>, KB_BACKEND_NAMES.
# Sets KB_BACKENDS (names) and KB_BACKEND_SOURCES (the headers' .c files).
# A line naming a header that does not exist stops the build here.
function(krefbench_backend_list list_file out_dir)
  file(STRINGS "${list_file}" lines)
  set(names "")
  set(headers "")
  set(sources "")
  set(includes "")
  set(xlist "")
  set(ids "")
  set(n 0)
  foreach(line IN LISTS lines)
    string(STRIP "${line}" line)
    if(line STREQUAL "" OR line MATCHES "^#")
      continue()
    endif()
    string(REGEX REPLACE "[ \t]+" ";" fields "${line}")
    list(LENGTH fields nf)
    list(GET fields 0 name)
    set(header "${name}")
    if(nf GREATER 1)
      list(GET fields 1 header)
    endif()
    if(nf GREATER 2 OR NOT name MATCHES "^[a-z][a-z0-9_]*$" OR NOT header MATCHES "^[a-z][a-z0-9_]*$")
      message(FATAL_ERROR "${list_file}: bad line '${line}': want '<name> [<header>]', lower-case C identifiers")
    endif()
    if(name IN_LIST names)
      message(FATAL_ERROR "${list_file}: backend '${name}' is listed twice")
    endif()
    if(NOT EXISTS "${CMAKE_CURRENT_LIST_DIR}/backends/${header}.h")
      message(FATAL_ERROR "${list_file}: backend '${name}' needs core/backends/${header}.h, which does not exist")
    endif()
    list(APPEND names "${name}")
    if(NOT header IN_LIST headers)
      list(APPEND headers "${header}")
      string(APPEND includes "#include \"core/backends/${header}.h\"\n")
      if(EXISTS "${CMAKE_CURRENT_LIST_DIR}/backends/${header}.c")
        list(APPEND sources "${CMAKE_CURRENT_LIST_DIR}/backends/${header}.c")
      endif()
    endif()
    math(EXPR n "${n} + 1")
    string(APPEND xlist " X(${name})")
    string(APPEND ids "#define KB_BACKEND_ID_${name} ${n}\n")
  endforeach()
  if(n EQUAL 0)
    message(FATAL_ERROR "${list_file}: no backends")
  endif()
  list(JOIN names " " names_text)
  set(content "/* Generated from core/backends.list by core/backend_list.cmake: do not edit. */
#ifndef KREFBENCH_GENERATED_BACKEND_LIST_H
#define KREFBENCH_GENERATED_BACKEND_LIST_H

${includes}
/* X(name) for every backend, in the list's order. */
#define KB_FOR_EACH_BACKEND(X)${xlist}
#define KB_NBACKENDS ${n}
#define KB_BACKEND_NAMES \"${names_text}\"
${ids}
#endif
")
  # Rewritten only when it changes, so that an unchanged list rebuilds nothing.
  file(CONFIGURE OUTPUT "${out_dir}/core/backend_list.h" CONTENT "${content}" @ONLY)
  set(KB_BACKENDS "${names}" PARENT_SCOPE)
  set(KB_BACKEND_SOURCES "${sources}" PARENT_SCOPE)
endfunction()
