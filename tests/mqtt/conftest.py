from mqtt.mqtt_support import broker, sense  # noqa: F401
from tasks.start_support import clean_sense, qlog  # noqa: F401
