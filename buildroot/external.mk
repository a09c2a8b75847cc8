include $(sort $(wildcard $(BR2_EXTERNAL_TBGW_PATH)/package/*/*.mk))
