################################################################################
#
# tbgw
#
################################################################################

# Built from the source tree this BR2_EXTERNAL lives in. Buildroot names
# the version of a local package "custom", so the version stamped into
# the binary (reported to ThingsBoard and compared by OTA) is kept in its
# own variable: the menuconfig value, else `git describe` of the tree.
TBGW_VERSION = custom
TBGW_SITE = $(BR2_EXTERNAL_TBGW_PATH)/..
TBGW_SITE_METHOD = local
TBGW_LICENSE = Apache-2.0
TBGW_LICENSE_FILES = LICENSE
TBGW_GOMOD = github.com/tbgw/tbgw

TBGW_GW_VERSION = $(or $(call qstrip,$(BR2_PACKAGE_TBGW_VERSION)),$(shell git -C $(BR2_EXTERNAL_TBGW_PATH)/.. describe --tags --always --dirty 2>/dev/null),custom)

# Build outputs and packaging trees of the source checkout stay out of the
# build directory.
TBGW_OVERRIDE_SRCDIR_RSYNC_EXCLUSIONS = \
	--exclude /dist --exclude /tbgw --exclude /.cache \
	--exclude /buildroot --exclude /openwrt --exclude '*.test'

# A local site has no download step (the hook runs once host-go is built), so Buildroot's download
# post-processing (go mod vendor) never runs, and the build uses
# GOFLAGS=-mod=vendor GOPROXY=off. Vendor here the same way, unless the
# tree is already vendored (run `go mod vendor` in it for offline builds).
TBGW_GOPROXY = $(call qstrip,$(BR2_PACKAGE_TBGW_GOPROXY))
define TBGW_VENDOR_MODULES
	if [ ! -f $(@D)/vendor/modules.txt ]; then \
		cd $(@D) && $(HOST_GO_COMMON_ENV) GOFLAGS=-mod=mod \
			GOPROXY=$(TBGW_GOPROXY) $(TBGW_GO_ENV) \
			$(GO_BIN) mod vendor -v -modcacherw; \
	fi
endef
TBGW_PRE_CONFIGURE_HOOKS += TBGW_VENDOR_MODULES

# Connector build tags: all connectors, or "custom" and one tag per
# chosen connector (drivers.<type>) and SQL driver (odbc.<driver>). The
# SQLite and SQL Server drivers are opt-in in both cases.
TBGW_CONNECTOR_TYPES = bacnet ble can exec ftp knx modbus mqtt ocpp odbc \
	opcua request rest serial simulator snmp socket xmpp
TBGW_ODBC_DRIVERS = postgres mysql
TBGW_ODBC_OPTIN_DRIVERS = sqlite mssql
ifneq ($(BR2_PACKAGE_TBGW_ALL_CONNECTORS),y)
TBGW_TAGS = custom \
	$(foreach c,$(TBGW_CONNECTOR_TYPES),$(if $(BR2_PACKAGE_TBGW_CONNECTOR_$(call UPPERCASE,$(c))),drivers.$(c))) \
	$(foreach d,$(TBGW_ODBC_DRIVERS),$(if $(BR2_PACKAGE_TBGW_CONNECTOR_ODBC_$(call UPPERCASE,$(d))),odbc.$(d)))
endif
TBGW_TAGS += $(foreach d,$(TBGW_ODBC_OPTIN_DRIVERS),$(if $(BR2_PACKAGE_TBGW_CONNECTOR_ODBC_$(call UPPERCASE,$(d))),odbc.$(d)))
# Without net/http's HTTP/2, which tbgw never speaks (HTTP/1.1 only): 0.5 MB
# less with an HTTP connector.
TBGW_TAGS += nethttpomithttp2
TBGW_LDFLAGS = -s -w -X main.version=$(TBGW_GW_VERSION)
TBGW_GO_ENV = CGO_ENABLED=0

# TLS to ThingsBoard is verified against the system trust store.
TBGW_DEPENDENCIES = ca-certificates

# The gateway runs unprivileged; dialout for serial ports.
define TBGW_USERS
	tbgw -1 tbgw -1 * /var/lib/tbgw - dialout tbgw gateway
endef

define TBGW_PERMISSIONS
	/etc/tbgw d 750 tbgw tbgw - - - - -
	/etc/tbgw/tb_gateway.json f 640 tbgw tbgw - - - - -
	/etc/tbgw/simulator.json f 640 tbgw tbgw - - - - -
	/var/lib/tbgw d 700 tbgw tbgw - - - - -
endef

# The shipped configuration enables no connector (add one and restart);
# simulator.json is there to try one. State (storage, device registry,
# connector state) lives in /var/lib/tbgw, given by the init files.
define TBGW_INSTALL_CONFIG
	$(INSTALL) -d -m 0750 $(TARGET_DIR)/etc/tbgw
	$(INSTALL) -d -m 0700 $(TARGET_DIR)/var/lib/tbgw
	$(INSTALL) -m 0640 $(@D)/etc/tbgw/tb_gateway.json $(TARGET_DIR)/etc/tbgw/tb_gateway.json
	$(INSTALL) -m 0640 $(@D)/etc/tbgw/simulator.json $(TARGET_DIR)/etc/tbgw/simulator.json
	$(INSTALL) -D -m 0644 $(@D)/etc/default/tbgw $(TARGET_DIR)/etc/default/tbgw
endef
TBGW_POST_INSTALL_TARGET_HOOKS += TBGW_INSTALL_CONFIG

ifeq ($(BR2_PACKAGE_TBGW_PYTHON_EXTENSIONS),y)
define TBGW_INSTALL_PYTHON_EXTENSIONS
	mkdir -p $(TARGET_DIR)/usr/share/tbgw
	cp -r $(@D)/extensions $(TARGET_DIR)/usr/share/tbgw/
	rm -rf $(TARGET_DIR)/usr/share/tbgw/extensions/examples
endef
TBGW_POST_INSTALL_TARGET_HOOKS += TBGW_INSTALL_PYTHON_EXTENSIONS
endif

define TBGW_INSTALL_INIT_SYSV
	$(INSTALL) -D -m 0755 $(@D)/etc/init.d/S95tbgw $(TARGET_DIR)/etc/init.d/S95tbgw
endef

define TBGW_INSTALL_INIT_SYSTEMD
	$(INSTALL) -D -m 0644 $(@D)/etc/systemd/tbgw.service $(TARGET_DIR)/usr/lib/systemd/system/tbgw.service
endef

$(eval $(golang-package))
