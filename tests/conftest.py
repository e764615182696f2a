pytest_plugins = ["runner.localcloud.testing"]
