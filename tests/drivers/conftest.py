from tests.dock_fixture import dock_sim, dock_sim_ready  # noqa: F401 - fixtures
