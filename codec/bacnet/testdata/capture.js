// Records real datagrams exchanged between two @bacnet-js/client stacks
// (a client and a device) through a relaying socket, one "name hex" line
// each, for the codec's vector tests and fuzz seeds. Usage:
//   NODE_PATH=<dir with @bacnet-js/client> node capture.js > captures.txt
const dgram = require("dgram");
const Bacnet = require("@bacnet-js/client").default;
const { ObjectType: OT, PropertyIdentifier: P, ApplicationTag: T } = require("@bacnet-js/client");

const H = "127.0.0.1", PC = 47901, PD = 47902, PR = 47903;
const relay = dgram.createSocket("udp4");
let label = "start", from = { c: 0, d: 0 };
relay.on("message", (msg, rinfo) => {
  const fromClient = rinfo.port === PC;
  console.log(`${label}.${fromClient ? "req" : "resp"} ${msg.toString("hex")}`);
  relay.send(msg, fromClient ? PD : PC, H);
});
relay.bind(PR, H);

const dev = new Bacnet({ port: PD, interface: H, broadcastAddress: H });
let av = 21.5;
dev.on("whoIs", m => dev.iAmResponse(m.header.sender, 1234, 0, 15));
dev.on("whoHas", m => dev.iHaveResponse(m.header.sender, { type: OT.DEVICE, instance: 1234 }, { type: OT.ANALOG_VALUE, instance: 0 }, "Zone Temp"));
dev.on("readProperty", m => {
  const { objectId, property } = m.payload;
  if (property.id === P.PRESENT_VALUE)
    return dev.readPropertyResponse(m.header.sender, m.invokeId, objectId, property, [{ type: T.REAL, value: av }]);
  if (property.id === P.OBJECT_NAME)
    return dev.readPropertyResponse(m.header.sender, m.invokeId, objectId, property, [{ type: T.CHARACTER_STRING, value: "Zone Temp ÄÖ" }]);
  if (property.id === P.OBJECT_LIST)
    return dev.readPropertyResponse(m.header.sender, m.invokeId, objectId, property, [
      { type: T.OBJECTIDENTIFIER, value: { type: OT.DEVICE, instance: 1234 } },
      { type: T.OBJECTIDENTIFIER, value: { type: OT.ANALOG_VALUE, instance: 0 } },
      { type: T.OBJECTIDENTIFIER, value: { type: OT.BINARY_VALUE, instance: 1 } }]);
  if (property.id === P.STATUS_FLAGS)
    return dev.readPropertyResponse(m.header.sender, m.invokeId, objectId, property, [{ type: T.BIT_STRING, value: { bitsUsed: 4, value: [0x02] } }]);
  dev.errorResponse(m.header.sender, m.service, m.invokeId, 2, 32);
});
dev.on("readPropertyMultiple", m => {
  dev.readPropertyMultipleResponse(m.header.sender, m.invokeId, [
    { objectId: { type: OT.ANALOG_VALUE, instance: 0 }, values: [
      { property: { id: P.PRESENT_VALUE, index: 0xFFFFFFFF }, value: [{ type: T.REAL, value: av }] },
      { property: { id: P.UNITS, index: 0xFFFFFFFF }, value: [{ type: T.ENUMERATED, value: 62 }] }] },
    { objectId: { type: OT.BINARY_VALUE, instance: 1 }, values: [
      { property: { id: P.PRESENT_VALUE, index: 0xFFFFFFFF }, value: [{ type: T.ENUMERATED, value: 1 }] },
      { property: { id: P.DESCRIPTION, index: 0xFFFFFFFF }, value: [{ value: { type: "BacnetError", errorClass: 2, errorCode: 32 } }] }] }]);
});
dev.on("writeProperty", m => { av = m.payload.value.value[0].value; dev.simpleAckResponse(m.header.sender, m.service, m.invokeId); });
dev.on("writePropertyMultiple", m => dev.simpleAckResponse(m.header.sender, m.service, m.invokeId));
dev.on("subscribeCov", m => {
  dev.simpleAckResponse(m.header.sender, m.service, m.invokeId);
  dev.unconfirmedCOVNotification(m.header.sender, 7, { type: OT.DEVICE, instance: 1234 }, { type: OT.ANALOG_VALUE, instance: 0 }, 300, [
    { property: { id: P.PRESENT_VALUE }, value: [{ type: T.REAL, value: 22.25 }] },
    { property: { id: P.STATUS_FLAGS }, value: [{ type: T.BIT_STRING, value: { bitsUsed: 4, value: [0] } }] }]);
});
dev.on("subscribeProperty", m => dev.simpleAckResponse(m.header.sender, m.service, m.invokeId));

const cli = new Bacnet({ port: PC, interface: H, broadcastAddress: H, apduTimeout: 2000 });
const to = { address: `${H}:${PR}` };
const step = async (name, f) => { label = name; try { await f(); } catch (e) { } await new Promise(r => setTimeout(r, 200)); };
(async () => {
  await new Promise(r => setTimeout(r, 300));
  await step("whois", () => cli.whoIs(to));
  await step("whois-range", () => cli.whoIs(to, { lowLimit: 1000, highLimit: 2000 }));
  await step("whohas", async () => {
    const b = cli._getApduBuffer(to);
    require("@bacnet-js/client/dist/lib/npdu").encode(b, 0, to);
    require("@bacnet-js/client/dist/lib/apdu").encodeUnconfirmedServiceRequest(b, 0x10, 7);
    require("@bacnet-js/client/dist/lib/services").WhoHas.encode(b, 0, 4194303, { type: OT.ANALOG_VALUE, instance: 0 });
    cli.sendBvlc(to, b);
  });
  await step("readprop", () => cli.readProperty(to, { type: OT.ANALOG_VALUE, instance: 0 }, P.PRESENT_VALUE));
  await step("readprop-name", () => cli.readProperty(to, { type: OT.ANALOG_VALUE, instance: 0 }, P.OBJECT_NAME));
  await step("readprop-list", () => cli.readProperty(to, { type: OT.DEVICE, instance: 1234 }, P.OBJECT_LIST));
  await step("readprop-flags", () => cli.readProperty(to, { type: OT.ANALOG_VALUE, instance: 0 }, P.STATUS_FLAGS));
  await step("readprop-index", () => cli.readProperty(to, { type: OT.DEVICE, instance: 1234 }, P.OBJECT_LIST, { arrayIndex: 0 }));
  await step("readprop-error", () => cli.readProperty(to, { type: OT.ANALOG_VALUE, instance: 0 }, P.DESCRIPTION));
  await step("rpm", () => cli.readPropertyMultiple(to, [
    { objectId: { type: OT.ANALOG_VALUE, instance: 0 }, properties: [{ id: P.PRESENT_VALUE }, { id: P.UNITS }] },
    { objectId: { type: OT.BINARY_VALUE, instance: 1 }, properties: [{ id: P.PRESENT_VALUE }, { id: P.DESCRIPTION }] }]));
  await step("writeprop", () => cli.writeProperty(to, { type: OT.ANALOG_VALUE, instance: 0 }, P.PRESENT_VALUE, [{ type: T.REAL, value: 55.5 }], { priority: 8 }));
  await step("wpm", () => cli.writePropertyMultiple(to, [
    { objectId: { type: OT.ANALOG_VALUE, instance: 0 }, values: [
      { property: { id: P.PRESENT_VALUE, index: 0xFFFFFFFF }, value: [{ type: T.REAL, value: 1.5 }], priority: 16 }] }]));
  await step("subcov", () => cli.subscribeCov(to, { type: OT.ANALOG_VALUE, instance: 0 }, 7, false, false, 300));
  await step("subcovprop", () => cli.subscribeProperty(to, { type: OT.ANALOG_VALUE, instance: 0 }, { id: P.PRESENT_VALUE, index: 0xFFFFFFFF }, 8, false, true));
  await step("regfd", () => cli.registerForeignDevice(to, 900).catch(() => {}));
  label = "end";
  cli.close(); dev.close(); relay.close();
})();
