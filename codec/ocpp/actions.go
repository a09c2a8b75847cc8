package ocpp

// The calls a CSMS may send to a charge point, per version.
var csmsActions = map[string]map[string]bool{
	V16: set("CancelReservation", "ChangeAvailability", "ChangeConfiguration", "ClearCache",
		"ClearChargingProfile", "DataTransfer", "GetCompositeSchedule", "GetConfiguration", "GetDiagnostics",
		"GetLocalListVersion", "RemoteStartTransaction", "RemoteStopTransaction", "ReserveNow", "Reset",
		"SendLocalList", "SetChargingProfile", "TriggerMessage", "UnlockConnector", "UpdateFirmware",
		"ExtendedTriggerMessage", "CertificateSigned", "DeleteCertificate", "GetInstalledCertificateIds",
		"GetLog", "InstallCertificate", "SignedUpdateFirmware"),
	V201: set("CancelReservation", "CertificateSigned", "ChangeAvailability", "ClearCache",
		"ClearChargingProfile", "ClearDisplayMessage", "ClearVariableMonitoring", "CostUpdated",
		"CustomerInformation", "DataTransfer", "DeleteCertificate", "GetBaseReport", "GetChargingProfiles",
		"GetCompositeSchedule", "GetDisplayMessages", "GetInstalledCertificateIds", "GetLocalListVersion",
		"GetLog", "GetMonitoringReport", "GetReport", "GetTransactionStatus", "GetVariables",
		"InstallCertificate", "PublishFirmware", "RequestStartTransaction", "RequestStopTransaction",
		"ReserveNow", "Reset", "SendLocalList", "SetChargingProfile", "SetDisplayMessage",
		"SetMonitoringBase", "SetMonitoringLevel", "SetNetworkProfile", "SetVariableMonitoring",
		"SetVariables", "TriggerMessage", "UnlockConnector", "UnpublishFirmware", "UpdateFirmware"),
}

func set(names ...string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// CSMSAction reports whether action is a call a CSMS may send to a charge
// point speaking version v.
func CSMSAction(v, action string) bool { return csmsActions[v][action] }
