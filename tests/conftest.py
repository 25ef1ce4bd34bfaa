"""Test configuration: Hypothesis profiles.

``ci`` (chosen when the CI environment variable is set) derandomises Hypothesis
so a run is reproducible; ``dev`` explores new examples each run.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", derandomize=True, deadline=None, max_examples=50,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, max_examples=50,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "dev")
