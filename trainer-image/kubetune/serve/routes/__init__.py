"""One router per endpoint family, collected by ``kubetune.serve.app``."""
