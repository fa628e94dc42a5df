"""The parts every layer shares: settings, response bodies, time."""
