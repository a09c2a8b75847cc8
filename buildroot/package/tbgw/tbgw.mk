################################################################################
#
# tbgw
#
################################################################################

TBGW_VERSION = $(call qstrip,$(BR2_PACKAGE_TBGW_VERSION))
ifeq ($(TBGW_VERSION),)
TBGW_VERSION = local
endif
# Build from the tree this external lives in.
TBGW_SITE = $(BR2_EXTERNAL_TBGW_PATH)/..
TBGW_SITE_METHOD = local
TBGW_LICENSE = Apache-2.0
TBGW_GOMOD = github.com/tbgw/tbgw

TBGW_CONNECTORS = $(call qstrip,$(BR2_PACKAGE_TBGW_CONNECTORS))
ifneq ($(TBGW_CONNECTORS),)
TBGW_TAGS = custom $(addprefix drivers.,$(TBGW_CONNECTORS))
endif
TBGW_LDFLAGS = -X main.version=$(TBGW_VERSION)
TBGW_BUILD_TARGETS = .
TBGW_INSTALL_BINS = tbgw
TBGW_GO_ENV = CGO_ENABLED=0

define TBGW_INSTALL_CONFIG
	$(INSTALL) -d -m 0755 $(TARGET_DIR)/etc/tbgw
	$(INSTALL) -m 0644 $(@D)/etc/tbgw/tb_gateway.json $(TARGET_DIR)/etc/tbgw/tb_gateway.json
	$(INSTALL) -m 0644 $(@D)/etc/tbgw/simulator.json $(TARGET_DIR)/etc/tbgw/simulator.json
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
