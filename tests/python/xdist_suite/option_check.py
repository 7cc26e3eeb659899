"""Run by test_package.py without xdist: the service from --portpool-service, instance 1."""


def test_service_from_the_option(portpool_lease, portpool_port):
    assert portpool_lease.service == "web"
    assert portpool_lease.instance == 1
    assert portpool_port == portpool_lease.port
