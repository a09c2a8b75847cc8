"""Stand-in for simplejson when it is not installed: the standard json
module under simplejson's name (extensions use loads/dumps)."""
from json import *  # noqa: F401,F403
from json import JSONDecodeError, dumps, loads  # noqa: F401
