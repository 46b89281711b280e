"""Domain package shared by every Lambda function (shipped as the `Common` layer)."""
