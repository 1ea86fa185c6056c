"""Live tier: real local Prometheus, node_exporter and the Todo backend."""
