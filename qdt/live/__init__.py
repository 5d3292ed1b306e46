"""Live facility status from the city's IoT platform over MQTT (a model package: no Qt, no VTK).

- :mod:`qdt.live.messages`: topic scheme ``qdt/<feature_class>/<code>/status``, payload validation, alarms;
- :mod:`qdt.live.store`: ``qdt_live_status`` / ``qdt_live_history`` / ``qdt_live_alarms`` in the GeoPackage;
- :mod:`qdt.live.feed`: the subscriber (paho-mqtt), batching writer, back-off reconnect, counters;
- :mod:`qdt.live.broker`: a throw-away loopback Mosquitto; :mod:`qdt.live.demo`: a demo publisher.
"""

from qdt.live.feed import Broker, BrokerURLError, LiveFeed, record
from qdt.live.messages import (
    TOPIC_FILTER,
    Alarm,
    FacilityIndex,
    Rejected,
    StatusUpdate,
    alarm_for,
    parse_ts,
    topic_for,
)
from qdt.live.source import LiveSource, LiveSourceError, open_live_source, reporting_classes
from qdt.live.store import LiveStore, read_alarms, read_history, read_states

__all__ = ["TOPIC_FILTER", "Alarm", "Broker", "BrokerURLError", "FacilityIndex", "LiveFeed", "LiveSource",
           "LiveSourceError", "LiveStore", "Rejected", "StatusUpdate", "alarm_for", "open_live_source", "parse_ts",
           "read_alarms", "read_history", "read_states", "record", "reporting_classes", "topic_for"]
