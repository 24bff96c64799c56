from anatomy_ssl.training.pretrain_config import PretrainConfig


def test_help_shows_the_config_schemas_defaults(help_rows):
    schema = PretrainConfig()
    rows = help_rows(["pretrain"])
    assert f"[default: {schema.method}]" in rows["--method"]
    assert f"[default: {schema.data.source}]" in rows["--data"]
    assert f"[default: {schema.encoder.name}]" in rows["--encoder"]
    assert f"[default: {schema.optim.max_steps}]" in rows["--steps"]
