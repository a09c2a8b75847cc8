"""The parts of the ThingsBoard IoT Gateway's Python interface that custom
connectors and converters use, reimplemented for tbgw's extension host
(tbgw_host.py). Only what extensions call is here; the gateway itself is
tbgw."""
