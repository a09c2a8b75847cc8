package config

import (
	"encoding/json"
	"strings"

	"github.com/tbgw/tbgw/gw/storage"
)

// File is tb_gateway.json as upstream writes it.
type File struct {
	ThingsBoard ThingsBoard      `json:"thingsboard"`
	Storage     storage.Config   `json:"storage"`
	GRPC        json.RawMessage  `json:"grpc"`
	Connectors  []ConnectorEntry `json:"connectors"`
	// HandleDeviceRenaming at the top level is where upstream actually
	// reads it from; accepted here too.
	HandleDeviceRenaming *bool `json:"handleDeviceRenaming"`
}

// ThingsBoard is the "thingsboard" section (tb-gateway 3.1).
type ThingsBoard struct {
	Host                                   string          `json:"host"`
	Port                                   int             `json:"port"`
	KeepAlive                              int             `json:"keep_alive"`
	QoS                                    *int            `json:"qos"`
	Security                               *Security       `json:"security"`
	Provisioning                           json.RawMessage `json:"provisioning"`
	ProxyHost                              string          `json:"proxy_host"`
	ProxyPort                              int             `json:"proxy_port"`
	RemoteConfiguration                    bool            `json:"remoteConfiguration"`
	RemoteShell                            bool            `json:"remoteShell"`
	LatencyDebugMode                       bool            `json:"latencyDebugMode"`
	Statistics                             Statistics      `json:"statistics"`
	DeviceFiltering                        DeviceFiltering `json:"deviceFiltering"`
	MaxPayloadSizeBytes                    int             `json:"maxPayloadSizeBytes"`
	MinPackSendDelayMS                     int             `json:"minPackSendDelayMS"`
	MinPackSizeToSend                      int             `json:"minPackSizeToSend"`
	CheckConnectorsConfigurationInSeconds  int             `json:"checkConnectorsConfigurationInSeconds"`
	HandleDeviceRenaming                   *bool           `json:"handleDeviceRenaming"`
	ReportStrategy                         *ReportStrategy `json:"reportStrategy"`
	ReportStrategyDataCacheCleanupInterval int             `json:"reportStrategyDataCacheCleanupInterval"`
	CheckingDeviceActivity                 DeviceActivity  `json:"checkingDeviceActivity"`
	SyncDevicesSharedAttributesOnConnect   *bool           `json:"syncDevicesSharedAttributesOnConnect"`
	RateLimits                             string          `json:"rateLimits"`
	DPRateLimits                           string          `json:"dpRateLimits"`
	MessagesRateLimits                     string          `json:"messagesRateLimits"`
	DeviceMessagesRateLimits               string          `json:"deviceMessagesRateLimits"`
	DeviceRateLimits                       string          `json:"deviceRateLimits"`
	DeviceDPRateLimits                     string          `json:"deviceDpRateLimits"`
	ManagerEnabled                         bool            `json:"managerEnabled"`
	// tbgw's remote-operation keys (remoteops.go).
	RemoteShellOptions ShellOptions `json:"remoteShellOptions"`
	RPCCommands        RPCCommands  `json:"rpcCommands"`
	OTA                OTA          `json:"ota"`
}

// Security is thingsboard.security (tb-gateway 3.2).
type Security struct {
	Type                string `json:"type"`
	AccessToken         string `json:"accessToken"`
	Username            string `json:"username"`
	Password            string `json:"password"`
	ClientID            string `json:"clientId"`
	CACert              string `json:"caCert"`
	Cert                string `json:"cert"`
	PrivateKey          string `json:"privateKey"`
	Insecure            bool   `json:"insecure"`
	TLS                 bool   `json:"tls"`
	CheckCertPeriod     int    `json:"checkCertPeriod"`
	CertificateDaysLeft int    `json:"certificateDaysLeft"`
}

// Statistics is thingsboard.statistics.
type Statistics struct {
	Enable                         *bool  `json:"enable"`
	EnableCustom                   *bool  `json:"enableCustom"`
	StatsSendPeriodInSeconds       int    `json:"statsSendPeriodInSeconds"`
	CustomStatsSendPeriodInSeconds int    `json:"customStatsSendPeriodInSeconds"`
	Configuration                  string `json:"configuration"`
}

// DeviceFiltering is thingsboard.deviceFiltering.
type DeviceFiltering struct {
	Enable     bool   `json:"enable"`
	FilterFile string `json:"filterFile"`
}

// DeviceActivity is thingsboard.checkingDeviceActivity.
type DeviceActivity struct {
	CheckDeviceInactivity        bool `json:"checkDeviceInactivity"`
	InactivityTimeoutSeconds     int  `json:"inactivityTimeoutSeconds"`
	InactivityCheckPeriodSeconds int  `json:"inactivityCheckPeriodSeconds"`
}

// ReportStrategy is a reportStrategy block (tb-gateway 5.6).
type ReportStrategy struct {
	Type                string `json:"type"`
	ReportPeriod        *int64 `json:"reportPeriod"`
	TTL                 *int64 `json:"ttl"`
	AggregationFunction string `json:"aggregationFunction"`
}

// ReportTypes are the valid report strategy types, upper case.
var ReportTypes = []string{"ON_RECEIVED", "ON_CHANGE", "ON_REPORT_PERIOD", "ON_CHANGE_OR_REPORT_PERIOD", "DISABLED"}

// ValidReportType reports whether t names a strategy (case-insensitive).
func ValidReportType(t string) bool {
	for _, v := range ReportTypes {
		if strings.EqualFold(v, t) {
			return true
		}
	}
	return false
}

// ConnectorEntry is one element of the "connectors" list.
type ConnectorEntry struct {
	Type          string          `json:"type"`
	Name          string          `json:"name"`
	Configuration string          `json:"configuration"`
	Class         string          `json:"class"`
	UseGRPCForce  bool            `json:"useGRPCForce"`
	Key           string          `json:"key"`
	ConfigVersion string          `json:"configVersion"`
	ID            string          `json:"id"`
	LogLevel      string          `json:"logLevel"`
	Raw           json.RawMessage `json:"configurationJson"`
}

// connectorCommon are the keys of a connector file the gateway reads itself.
type connectorCommon struct {
	Name                string          `json:"name"`
	ID                  string          `json:"id"`
	LogLevel            string          `json:"logLevel"`
	EnableRemoteLogging bool            `json:"enableRemoteLogging"`
	ReportStrategy      *ReportStrategy `json:"reportStrategy"`
	ConfigVersion       string          `json:"configVersion"`
}
