# Install rules and the Debian package (CPack's DEB generator). Why CPack and not debhelper, and
# what every file is for: packaging/README.md. Build it with scripts/package.sh.

include(GNUInstallDirs)

# Where the generated man page and completions go in the build tree.
set(K3S_DAAS_GEN_DIR ${PROJECT_BINARY_DIR}/packaging)
file(MAKE_DIRECTORY ${K3S_DAAS_GEN_DIR})

# The man page and the bash/zsh completions come from the CLI itself (`k3s-daas docgen`, which
# walks the CLI11 app), so they always match `--help`. gzip -n: no timestamp (reproducible).
add_custom_command(
  OUTPUT ${K3S_DAAS_GEN_DIR}/k3s-daas.8.gz ${K3S_DAAS_GEN_DIR}/k3s-daas.bash ${K3S_DAAS_GEN_DIR}/_k3s-daas
  COMMAND $<TARGET_FILE:k3s-daas> docgen man > ${K3S_DAAS_GEN_DIR}/k3s-daas.8
  COMMAND gzip -9nf ${K3S_DAAS_GEN_DIR}/k3s-daas.8
  COMMAND $<TARGET_FILE:k3s-daas> docgen bash > ${K3S_DAAS_GEN_DIR}/k3s-daas.bash
  COMMAND $<TARGET_FILE:k3s-daas> docgen zsh > ${K3S_DAAS_GEN_DIR}/_k3s-daas
  DEPENDS k3s-daas
  COMMENT "Generating the man page and shell completions from the CLI")
# debian/changelog equivalent: one entry for this version (lintian wants changelog.gz).
set(K3S_DAAS_DEB_REVISION "1" CACHE STRING "Debian revision of the package (the part after the '-')")
string(TIMESTAMP K3S_DAAS_CHANGELOG_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
configure_file(${PROJECT_SOURCE_DIR}/packaging/changelog.in ${K3S_DAAS_GEN_DIR}/changelog @ONLY)
add_custom_command(
  OUTPUT ${K3S_DAAS_GEN_DIR}/changelog.gz
  COMMAND gzip -9nc ${K3S_DAAS_GEN_DIR}/changelog > ${K3S_DAAS_GEN_DIR}/changelog.gz
  DEPENDS ${K3S_DAAS_GEN_DIR}/changelog)
add_custom_target(k3s-daas-docs ALL
  DEPENDS ${K3S_DAAS_GEN_DIR}/k3s-daas.8.gz ${K3S_DAAS_GEN_DIR}/k3s-daas.bash ${K3S_DAAS_GEN_DIR}/_k3s-daas
          ${K3S_DAAS_GEN_DIR}/changelog.gz)

set(CMAKE_INSTALL_DEFAULT_DIRECTORY_PERMISSIONS
  OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set(k3s_daas_doc ${CMAKE_INSTALL_DATAROOTDIR}/doc/k3s-daas)
# The unit goes to /lib/systemd/system (Debian 12's systemd.pc systemdsystemunitdir).
install(FILES ${PROJECT_SOURCE_DIR}/systemd/k3s-daas.service DESTINATION /lib/systemd/system)
install(FILES ${K3S_DAAS_GEN_DIR}/k3s-daas.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
install(FILES ${K3S_DAAS_GEN_DIR}/k3s-daas.bash DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/bash-completion/completions
        RENAME k3s-daas)
install(FILES ${K3S_DAAS_GEN_DIR}/_k3s-daas DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/zsh/vendor-completions)
install(FILES ${PROJECT_SOURCE_DIR}/config/config.example.json ${PROJECT_SOURCE_DIR}/packaging/copyright
              ${PROJECT_SOURCE_DIR}/docs/operations.md ${PROJECT_SOURCE_DIR}/docs/troubleshooting.md
              ${PROJECT_SOURCE_DIR}/docs/security.md ${PROJECT_SOURCE_DIR}/docs/config.md
              ${PROJECT_SOURCE_DIR}/docs/daemon.md ${PROJECT_SOURCE_DIR}/packaging/README.Debian
        DESTINATION ${k3s_daas_doc})
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION ${k3s_daas_doc} RENAME README.md)
install(FILES ${K3S_DAAS_GEN_DIR}/changelog.gz DESTINATION ${k3s_daas_doc} RENAME changelog.Debian.gz)

# --- CPack: one binary package plus its -dbgsym, Depends computed by dpkg-shlibdeps ---
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME k3s-daas)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
# No CPACK_STRIP_FILES: the DEBUGINFO package below strips the binary itself after moving its
# debug sections to the -dbgsym package (stripping first would leave nothing to move).
set(CPACK_DEBIAN_PACKAGE_RELEASE ${K3S_DAAS_DEB_REVISION})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "k3s-daas maintainers <maintainers@users.noreply.b-seed-029784f7.example>")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/k3s-daas/k3s-daas")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "worker agent for a decentralized k3s cluster staked on Sui")
# CPack puts the summary first and prefixes each line below with a space ("." for empty lines).
set(CPACK_PACKAGE_DESCRIPTION "k3s-daas runs a k3s worker node whose right to join the cluster is a stake on
the Sui blockchain. It proves the stake to an attested Nautilus master, runs
containerd and the k3s agent, sends heartbeats, and stops the node when the
stake is slashed.

The package installs the agent and a systemd unit that is neither enabled nor
started: a key, a configuration and a stake come first (see README.Debian).")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# containerd is what the agent runs by default (runtime.type "containerd"); k3s itself is not
# packaged in Debian and is installed by the operator (k3s.binary).
set(CPACK_DEBIAN_PACKAGE_DEPENDS "containerd, runc")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "ca-certificates")
set(CPACK_DEBIAN_DEBUGINFO_PACKAGE ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/packaging/postinst ${PROJECT_SOURCE_DIR}/packaging/prerm
  ${PROJECT_SOURCE_DIR}/packaging/postrm)
set(CPACK_DEBIAN_COMPRESSION_TYPE xz)
set(CPACK_SOURCE_IGNORE_FILES "/build.*/;/\\\\.git/")
include(CPack)
