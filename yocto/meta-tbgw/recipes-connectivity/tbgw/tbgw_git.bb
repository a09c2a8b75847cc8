SUMMARY = "tbgw, a ThingsBoard IoT Gateway in Go"
DESCRIPTION = "Connects field devices (Modbus, MQTT, OPC UA, SNMP, serial, \
CAN, BLE and more) to ThingsBoard. One Go binary, configuration in \
/etc/tbgw, state in /var/lib/tbgw, run as the tbgw user by systemd or \
SysV init."
HOMEPAGE = "https://github.com/tbgw/tbgw"
SECTION = "net"

LICENSE = "Apache-2.0"
LIC_FILES_CHKSUM = "file://src/${GO_IMPORT}/LICENSE;md5=3b83ef96387f14655fc854ddc3c6bd57"

GO_IMPORT = "github.com/tbgw/tbgw"
# Set SRCREV to the commit to build (a release tag's), and regenerate
# tbgw-go-mods.inc and tbgw-licenses.inc from that commit's go.mod with
# scripts/packaging/yocto-gomods.sh (or bitbake -c update_modules tbgw).
SRCREV ?= "${AUTOREV}"
PV = "0.0+git"
SRC_URI = "git://github.com/tbgw/tbgw.git;protocol=https;branch=main;destsuffix=${GO_SRCURI_DESTSUFFIX} \
           file://tbgw.tmpfiles \
           "

# Go modules the Yocto way: one gomod:// entry per module (fetched,
# checksummed and mirrored by do_fetch), their licenses.
require ${BPN}-licenses.inc
require ${BPN}-go-mods.inc

inherit go-mod go-mod-update-modules systemd update-rc.d useradd

# The gateway binary only, not the tree's scripts/ tools.
GO_INSTALL = "${GO_IMPORT}"
GO_EXTRA_LDFLAGS = "-X main.version=${PV}"

# Connectors: one PACKAGECONFIG per connector (build tag drivers.<type>)
# and per SQL driver of the odbc connector (odbc.<driver>). With all of
# them the default build is made; otherwise a "custom" build of those
# chosen, e.g. PACKAGECONFIG:pn-tbgw = "mqtt modbus". The large SQLite
# and SQL Server drivers are opt-in in both cases (not in the default
# PACKAGECONFIG), e.g. PACKAGECONFIG:append:pn-tbgw = " odbc-sqlite".
# Every build has TBGW_BASE_TAGS: nethttpomithttp2 leaves out net/http's
# HTTP/2, which tbgw never speaks (HTTP/1.1 only; 0.5 MB less with an
# HTTP connector).
TBGW_BASE_TAGS = "nethttpomithttp2"
TBGW_CONNECTORS = "bacnet ble can exec ftp knx modbus mqtt ocpp odbc opcua request rest serial simulator snmp socket xmpp"
TBGW_ODBC_DRIVERS = "odbc-postgres odbc-mysql"
TBGW_ODBC_OPTIN_DRIVERS = "odbc-sqlite odbc-mssql"
PACKAGECONFIG ??= "${TBGW_CONNECTORS} ${TBGW_ODBC_DRIVERS}"
PACKAGECONFIG[bacnet] = ""
PACKAGECONFIG[ble] = ""
PACKAGECONFIG[can] = ""
PACKAGECONFIG[exec] = ""
PACKAGECONFIG[ftp] = ""
PACKAGECONFIG[knx] = ""
PACKAGECONFIG[modbus] = ""
PACKAGECONFIG[mqtt] = ""
PACKAGECONFIG[ocpp] = ""
PACKAGECONFIG[odbc] = ""
PACKAGECONFIG[opcua] = ""
PACKAGECONFIG[request] = ""
PACKAGECONFIG[rest] = ""
PACKAGECONFIG[serial] = ""
PACKAGECONFIG[simulator] = ""
PACKAGECONFIG[snmp] = ""
PACKAGECONFIG[socket] = ""
PACKAGECONFIG[xmpp] = ""
PACKAGECONFIG[odbc-postgres] = ""
PACKAGECONFIG[odbc-mysql] = ""
PACKAGECONFIG[odbc-sqlite] = ""
PACKAGECONFIG[odbc-mssql] = ""

def tbgw_tags(d):
    pc = (d.getVar('PACKAGECONFIG') or '').split()
    conns = d.getVar('TBGW_CONNECTORS').split()
    drivers = d.getVar('TBGW_ODBC_DRIVERS').split()
    optin = ['odbc.' + x[len('odbc-'):] for x in d.getVar('TBGW_ODBC_OPTIN_DRIVERS').split() if x in pc]
    base = d.getVar('TBGW_BASE_TAGS').split()
    if all(c in pc for c in conns + drivers):
        return ','.join(optin + base)
    tags = ['custom'] + ['drivers.' + c for c in conns if c in pc]
    tags += ['odbc.' + x[len('odbc-'):] for x in drivers if x in pc]
    return ','.join(tags + optin + base)

GOBUILDFLAGS:append = " -tags=${@tbgw_tags(d)}"

USERADD_PACKAGES = "${PN}"
USERADD_PARAM:${PN} = "--system --user-group --groups dialout \
    --home-dir ${localstatedir}/lib/tbgw --no-create-home \
    --shell /sbin/nologin tbgw"

SYSTEMD_SERVICE:${PN} = "tbgw.service"
INITSCRIPT_NAME = "tbgw"
INITSCRIPT_PARAMS = "defaults 95 10"

do_install:append() {
    src=${S}/src/${GO_IMPORT}
    # The Go sources go_do_install copies are of no use on the target.
    rm -rf ${D}${libdir}/go

    install -d -m 0750 -o tbgw -g tbgw ${D}${sysconfdir}/tbgw
    install -m 0640 -o tbgw -g tbgw $src/etc/tbgw/tb_gateway.json ${D}${sysconfdir}/tbgw/
    install -m 0640 -o tbgw -g tbgw $src/etc/tbgw/simulator.json ${D}${sysconfdir}/tbgw/
    install -D -m 0644 $src/etc/default/tbgw ${D}${sysconfdir}/default/tbgw
    install -d -m 0700 -o tbgw -g tbgw ${D}${localstatedir}/lib/tbgw

    if ${@bb.utils.contains('DISTRO_FEATURES', 'systemd', 'true', 'false', d)}; then
        install -D -m 0644 $src/etc/systemd/tbgw.service ${D}${systemd_system_unitdir}/tbgw.service
        install -D -m 0644 ${UNPACKDIR}/tbgw.tmpfiles ${D}${nonarch_libdir}/tmpfiles.d/tbgw.conf
    fi
    if ${@bb.utils.contains('DISTRO_FEATURES', 'sysvinit', 'true', 'false', d)}; then
        install -D -m 0755 $src/etc/init.d/S95tbgw ${D}${sysconfdir}/init.d/tbgw
    fi
}

FILES:${PN} += "${nonarch_libdir}/tmpfiles.d ${localstatedir}/lib/tbgw"
CONFFILES:${PN} = "${sysconfdir}/tbgw/tb_gateway.json ${sysconfdir}/tbgw/simulator.json ${sysconfdir}/default/tbgw"
RDEPENDS:${PN} = "ca-certificates"
