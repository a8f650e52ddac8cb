"""The params schema, one module per params.yaml section, so that a stage depends on (and
validates) only the sections it reads: a new classifier param leaves every cached CGAN valid.
`fewshot.params` puts them together for `check_params`, which validates the whole file first."""
