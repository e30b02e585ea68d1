"""Numeric cross-checks (torch Monte Carlo, quadrature, peer implementations), keyed by slot id."""
