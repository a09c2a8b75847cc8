package bacnet

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// ObjectType is a BACnetObjectType.
type ObjectType uint16

// Object types a gateway commonly addresses.
const (
	AnalogInput      ObjectType = 0
	AnalogOutput     ObjectType = 1
	AnalogValue      ObjectType = 2
	BinaryInput      ObjectType = 3
	BinaryOutput     ObjectType = 4
	BinaryValue      ObjectType = 5
	DeviceType       ObjectType = 8
	MultiStateInput  ObjectType = 13
	MultiStateOutput ObjectType = 14
	MultiStateValue  ObjectType = 19
)

// ObjectID is a BACnetObjectIdentifier: a 10-bit type and a 22-bit
// instance number.
type ObjectID struct {
	Type     ObjectType
	Instance uint32
}

// MaxInstance is the largest instance number; as a device instance in
// Who-Is ranges it is the wildcard.
const MaxInstance = 0x3FFFFF

// Raw returns the 32-bit encoding.
func (o ObjectID) Raw() uint32 { return uint32(o.Type&0x3FF)<<22 | o.Instance&MaxInstance }

// ObjectIDFromRaw decodes the 32-bit encoding.
func ObjectIDFromRaw(v uint32) ObjectID {
	return ObjectID{Type: ObjectType(v >> 22), Instance: v & MaxInstance}
}

func (o ObjectID) String() string {
	return o.Type.String() + ":" + strconv.FormatUint(uint64(o.Instance), 10)
}

var objectTypeNames = []string{
	"analogInput", "analogOutput", "analogValue", "binaryInput", "binaryOutput", "binaryValue",
	"calendar", "command", "device", "eventEnrollment", "file", "group", "loop", "multiStateInput",
	"multiStateOutput", "notificationClass", "program", "schedule", "averaging", "multiStateValue",
	"trendLog", "lifeSafetyPoint", "lifeSafetyZone", "accumulator", "pulseConverter", "eventLog",
	"globalGroup", "trendLogMultiple", "loadControl", "structuredView", "accessDoor", "timer",
	"accessCredential", "accessPoint", "accessRights", "accessUser", "accessZone",
	"credentialDataInput", "networkSecurity", "bitstringValue", "characterstringValue",
	"datePatternValue", "dateValue", "datetimePatternValue", "datetimeValue", "integerValue",
	"largeAnalogValue", "octetstringValue", "positiveIntegerValue", "timePatternValue", "timeValue",
	"notificationForwarder", "alertEnrollment", "channel", "lightingOutput", "binaryLightingOutput",
	"networkPort", "elevatorGroup", "escalator", "lift", "staging", "auditLog", "auditReporter",
	"color", "colorTemperature",
}

func (t ObjectType) String() string {
	if int(t) < len(objectTypeNames) {
		return objectTypeNames[t]
	}
	return "objectType" + strconv.Itoa(int(t))
}

// ParseObjectType accepts a camelCase name ("analogInput"), the hyphenated
// form ("analog-input") or a number.
func ParseObjectType(s string) (ObjectType, error) {
	k := normName(s)
	for i, n := range objectTypeNames {
		if strings.EqualFold(n, k) {
			return ObjectType(i), nil
		}
	}
	if v, err := strconv.ParseUint(strings.TrimPrefix(k, "objecttype"), 10, 16); err == nil && v <= 0x3FF {
		return ObjectType(v), nil
	}
	return 0, fmt.Errorf("unknown object type %q", s)
}

func normName(s string) string {
	s = strings.TrimSpace(s)
	s = strings.ReplaceAll(s, "-", "")
	s = strings.ReplaceAll(s, "_", "")
	return strings.ToLower(s)
}

// PropertyID is a BACnetPropertyIdentifier.
type PropertyID uint32

// Properties the gateway itself uses.
const (
	PropAll                   PropertyID = 8
	PropDescription           PropertyID = 28
	PropMaxAPDULength         PropertyID = 62
	PropModelName             PropertyID = 70
	PropObjectIdentifier      PropertyID = 75
	PropObjectList            PropertyID = 76
	PropObjectName            PropertyID = 77
	PropObjectType            PropertyID = 79
	PropPresentValue          PropertyID = 85
	PropPriorityArray         PropertyID = 87
	PropProtocolServices      PropertyID = 97
	PropSegmentationSupported PropertyID = 107
	PropStatusFlags           PropertyID = 111
	PropUnits                 PropertyID = 117
	PropVendorIdentifier      PropertyID = 120
	PropVendorName            PropertyID = 121
	PropFirmwareRevision      PropertyID = 44
	PropApplicationSoftware   PropertyID = 12
	PropPropertyList          PropertyID = 371
)

var propertyNames = sync.OnceValue(func() map[PropertyID]string {
	return map[PropertyID]string{
		0: "ackedTransitions", 1: "ackRequired", 2: "action", 3: "actionText", 4: "activeText",
		5: "activeVtSessions", 6: "alarmValue", 7: "alarmValues", 8: "all", 9: "allWritesSuccessful",
		10: "apduSegmentTimeout", 11: "apduTimeout", 12: "applicationSoftwareVersion", 13: "archive",
		14: "bias", 15: "changeOfStateCount", 16: "changeOfStateTime", 17: "notificationClass",
		19: "controlledVariableReference", 20: "controlledVariableUnits", 21: "controlledVariableValue",
		22: "covIncrement", 23: "dateList", 24: "daylightSavingsStatus", 25: "deadband",
		26: "derivativeConstant", 27: "derivativeConstantUnits", 28: "description",
		29: "descriptionOfHalt", 30: "deviceAddressBinding", 31: "deviceType", 32: "effectivePeriod",
		33: "elapsedActiveTime", 34: "errorLimit", 35: "eventEnable", 36: "eventState", 37: "eventType",
		38: "exceptionSchedule", 39: "faultValues", 40: "feedbackValue", 41: "fileAccessMethod",
		42: "fileSize", 43: "fileType", 44: "firmwareRevision", 45: "highLimit", 46: "inactiveText",
		47: "inProcess", 48: "instanceOf", 49: "integralConstant", 50: "integralConstantUnits",
		52: "limitEnable", 53: "listOfGroupMembers", 54: "listOfObjectPropertyReferences",
		56: "localDate", 57: "localTime", 58: "location", 59: "lowLimit",
		60: "manipulatedVariableReference", 61: "maximumOutput", 62: "maxApduLengthAccepted",
		63: "maxInfoFrames", 64: "maxMaster", 65: "maxPresValue", 66: "minimumOffTime",
		67: "minimumOnTime", 68: "minimumOutput", 69: "minPresValue", 70: "modelName",
		71: "modificationDate", 72: "notifyType", 73: "numberOfApduRetries", 74: "numberOfStates",
		75: "objectIdentifier", 76: "objectList", 77: "objectName", 78: "objectPropertyReference",
		79: "objectType", 80: "optional", 81: "outOfService", 82: "outputUnits", 83: "eventParameters",
		84: "polarity", 85: "presentValue", 86: "priority", 87: "priorityArray", 88: "priorityForWriting",
		89: "processIdentifier", 90: "programChange", 91: "programLocation", 92: "programState",
		93: "proportionalConstant", 94: "proportionalConstantUnits", 96: "protocolObjectTypesSupported",
		97: "protocolServicesSupported", 98: "protocolVersion", 99: "readOnly", 100: "reasonForHalt",
		102: "recipientList", 103: "reliability", 104: "relinquishDefault", 105: "required",
		106: "resolution", 107: "segmentationSupported", 108: "setpoint", 109: "setpointReference",
		110: "stateText", 111: "statusFlags", 112: "systemStatus", 113: "timeDelay",
		114: "timeOfActiveTimeReset", 115: "timeOfStateCountReset", 116: "timeSynchronizationRecipients",
		117: "units", 118: "updateInterval", 119: "utcOffset", 120: "vendorIdentifier", 121: "vendorName",
		122: "vtClassesSupported", 123: "weeklySchedule", 124: "attemptedSamples", 125: "averageValue",
		126: "bufferSize", 127: "clientCovIncrement", 128: "covResubscriptionInterval",
		130: "eventTimeStamps", 131: "logBuffer", 132: "logDeviceObjectProperty", 133: "enable",
		134: "logInterval", 135: "maximumValue", 136: "minimumValue", 137: "notificationThreshold",
		139: "protocolRevision", 140: "recordsSinceNotification", 141: "recordCount", 142: "startTime",
		143: "stopTime", 144: "stopWhenFull", 145: "totalRecordCount", 146: "validSamples",
		147: "windowInterval", 148: "windowSamples", 149: "maximumValueTimestamp",
		150: "minimumValueTimestamp", 151: "varianceValue", 152: "activeCovSubscriptions",
		153: "backupFailureTimeout", 154: "configurationFiles", 155: "databaseRevision",
		156: "directReading", 157: "lastRestoreTime", 158: "maintenanceRequired", 159: "memberOf",
		160: "mode", 161: "operationExpected", 162: "setting", 163: "silenced", 164: "trackingValue",
		165: "zoneMembers", 166: "lifeSafetyAlarmValues", 167: "maxSegmentsAccepted", 168: "profileName",
		169: "autoSlaveDiscovery", 170: "manualSlaveAddressBinding", 171: "slaveAddressBinding",
		172: "slaveProxyEnable", 173: "lastNotifyRecord", 174: "scheduleDefault", 175: "acceptedModes",
		176: "adjustValue", 177: "count", 178: "countBeforeChange", 179: "countChangeTime",
		180: "covPeriod", 181: "inputReference", 182: "limitMonitoringInterval", 183: "loggingObject",
		184: "loggingRecord", 185: "prescale", 186: "pulseRate", 187: "scale", 188: "scaleFactor",
		189: "updateTime", 190: "valueBeforeChange", 191: "valueSet", 192: "valueChangeTime",
		193: "alignIntervals", 195: "intervalOffset", 196: "lastRestartReason", 197: "loggingType",
		202: "restartNotificationRecipients", 203: "timeOfDeviceRestart",
		204: "timeSynchronizationInterval", 205: "trigger", 206: "utcTimeSynchronizationRecipients",
		207: "nodeSubtype", 208: "nodeType", 209: "structuredObjectList", 210: "subordinateAnnotations",
		211: "subordinateList", 212: "actualShedLevel", 213: "dutyWindow", 214: "expectedShedLevel",
		215: "fullDutyBaseline", 218: "requestedShedLevel", 219: "shedDuration",
		220: "shedLevelDescriptions", 221: "shedLevels", 222: "stateDescription",
		371: "propertyList",
	}
})

var propertyByName = sync.OnceValue(func() map[string]PropertyID {
	m := make(map[string]PropertyID, len(propertyNames()))
	for id, n := range propertyNames() {
		m[strings.ToLower(n)] = id
	}
	return m
})

func (p PropertyID) String() string {
	if n, ok := propertyNames()[p]; ok {
		return n
	}
	return "property" + strconv.FormatUint(uint64(p), 10)
}

// ParsePropertyID accepts a camelCase name ("presentValue"), the hyphenated
// form ("present-value") or a number.
func ParsePropertyID(s string) (PropertyID, error) {
	k := normName(s)
	if id, ok := propertyByName()[k]; ok {
		return id, nil
	}
	if v, err := strconv.ParseUint(strings.TrimPrefix(k, "property"), 10, 32); err == nil && v <= 0x3FFFFF {
		return PropertyID(v), nil
	}
	return 0, fmt.Errorf("unknown property identifier %q", s)
}

// Segmentation is the BACnetSegmentation enumeration.
type Segmentation uint8

// Segmentation support values.
const (
	SegmentedBoth     Segmentation = 0
	SegmentedTransmit Segmentation = 1
	SegmentedReceive  Segmentation = 2
	NoSegmentation    Segmentation = 3
)

var segmentationNames = []string{"segmentedBoth", "segmentedTransmit", "segmentedReceive", "noSegmentation"}

func (s Segmentation) String() string {
	if int(s) < len(segmentationNames) {
		return segmentationNames[s]
	}
	return "segmentation" + strconv.Itoa(int(s))
}

// ParseSegmentation parses a segmentation support name.
func ParseSegmentation(s string) (Segmentation, error) {
	k := normName(s)
	for i, n := range segmentationNames {
		if strings.EqualFold(n, k) {
			return Segmentation(i), nil
		}
	}
	return 0, fmt.Errorf("unknown segmentation %q (want segmentedBoth, segmentedTransmit, segmentedReceive or noSegmentation)", s)
}

// CanTransmit reports whether a party with this support may send segments.
func (s Segmentation) CanTransmit() bool { return s == SegmentedBoth || s == SegmentedTransmit }

// CanReceive reports whether a party with this support accepts segments.
func (s Segmentation) CanReceive() bool { return s == SegmentedBoth || s == SegmentedReceive }

var errorClassNames = []string{"device", "object", "property", "resources", "security", "services", "vt", "communication"}

var errorCodeNames = sync.OnceValue(func() map[uint32]string {
	return map[uint32]string{
		0: "other", 2: "configurationInProgress", 3: "deviceBusy", 5: "dynamicCreationNotSupported",
		7: "inconsistentParameters", 8: "inconsistentSelectionCriterion", 9: "invalidDataType",
		10: "fileAccessDenied", 11: "invalidFileStartPosition", 12: "invalidParameterDataType",
		13: "invalidTimeStamp", 15: "missingRequiredParameter", 16: "noObjectsOfSpecifiedType",
		17: "noSpaceForObject", 18: "noSpaceToAddListElement", 19: "noSpaceToWriteProperty",
		20: "noVtSessionsAvailable", 21: "propertyIsNotAList", 22: "objectDeletionNotPermitted",
		23: "objectIdentifierAlreadyExists", 24: "operationalProblem", 25: "passwordFailure",
		26: "readAccessDenied", 29: "serviceRequestDenied", 30: "timeout", 31: "unknownObject",
		32: "unknownProperty", 34: "unknownVtClass", 35: "unknownVtSession", 36: "unsupportedObjectType",
		37: "valueOutOfRange", 38: "vtSessionAlreadyClosed", 39: "vtSessionTerminationFailure",
		40: "writeAccessDenied", 41: "characterSetNotSupported", 42: "invalidArrayIndex",
		43: "covSubscriptionFailed", 44: "notCovProperty", 45: "optionalFunctionalityNotSupported",
		46: "invalidConfigurationData", 47: "datatypeNotSupported", 48: "duplicateName",
		49: "duplicateObjectId", 50: "propertyIsNotAnArray", 73: "abortBufferOverflow",
		123: "unknownSubscription",
	}
})

var rejectNames = []string{"other", "bufferOverflow", "inconsistentParameters",
	"invalidParameterDataType", "invalidTag", "missingRequiredParameter", "parameterOutOfRange",
	"tooManyArguments", "undefinedEnumeration", "unrecognizedService"}

var abortNames = []string{"other", "bufferOverflow", "invalidApduInThisState",
	"preemptedByHigherPriorityTask", "segmentationNotSupported", "securityError",
	"insufficientSecurity", "windowSizeOutOfRange", "applicationExceededReplyTime", "outOfResources",
	"tsmTimeout", "apduTooLong"}

func nameOr(names []string, v uint32, prefix string) string {
	if int(v) < len(names) {
		return names[v]
	}
	return prefix + strconv.FormatUint(uint64(v), 10)
}
