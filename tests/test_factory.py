from smart_app import create_app


def test_factory_is_not_testing_by_default() -> None:
    assert not create_app().testing


def test_factory_takes_a_test_config() -> None:
    assert create_app({"TESTING": True}).testing
