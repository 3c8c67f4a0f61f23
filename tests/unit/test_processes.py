"""Recognising Mendix runtimes on the process table by their command lines."""

from __future__ import annotations

from mxguard.discovery.processes import RuntimeProcess, classify, runtime_version_of

LAUNCHER = [
    "java",
    "-Dfile.encoding=UTF-8",
    "-jar",
    "/srv/shop/runtimes/10.24.3.78414/runtime/launcher/runtimelauncher.jar",
    "/srv/shop/",
]


def test_the_mendix_7_launcher_names_the_project() -> None:
    assert classify(LAUNCHER) == ("launcher", "/srv/shop")
    assert runtime_version_of(LAUNCHER) == "10.24.3.78414"


def test_felix_runtimes_of_mendix_5_and_6_name_the_project_in_a_property() -> None:
    argv = [
        "java",
        "-cp",
        "/opt/mendix/6.10.4/runtime/felix/bin/felix.jar:/x",
        "-Dfelix.config.properties=file:/srv/old/model/felixconfig.properties",
        "org.apache.felix.main.Main",
    ]
    assert classify(argv) == ("felix", "/srv/old")
    assert runtime_version_of(argv) == "6.10.4"


def test_the_old_container_class_is_recognised() -> None:
    assert classify(["java", "com.mendix.m2ee.server.HttpAdminAppContainer"]) == ("container", None)


def test_other_java_processes_are_not_runtimes() -> None:
    assert classify(["java", "-jar", "/opt/jenkins/jenkins.war"]) is None


def test_secret_arguments_are_masked_in_the_command() -> None:
    process = RuntimeProcess(
        pid=1,
        uid=1,
        user="a",
        argv=("java", "-Djavax.net.ssl.trustStorePassword=hunter2", *LAUNCHER[2:]),
        generation="launcher",
        app_base="/srv/shop",
        runtime_version=None,
        environment=None,
    )
    assert "hunter2" not in process.masked_command
    assert "-Djavax.net.ssl.trustStorePassword=***" in process.masked_command
