"""`mjpod runpod up|down|ssh|gpus|volumes`: the appliance on a Runpod GPU pod (what `make runpod-*`
runs); `mjpod runpod idle-watch` is what a pod started with --idle-stop runs to stop itself."""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from mjpod.cli.common import console, fail, user_errors
from mjpod.cloud.runpod import (
    CLOUDS,
    Pod,
    PodRequest,
    Runpod,
    RunpodError,
    down_report,
    find_public_key,
    ssh_command,
    ssh_config_entry,
)
from mjpod.cloud.runpod_volumes import NetworkVolume
from mjpod.errors import MjpodError

runpod_app = typer.Typer(
    help="Run the appliance on a Runpod GPU pod (official runpod SDK; needs RUNPOD_API_KEY).",
    no_args_is_help=True,
)

NameOpt = Annotated[str, typer.Option(help="pod name; down and ssh find the pod by it")]
POD_NAME = "mjpod"  # --name's default
IdOpt = Annotated[str | None, typer.Option("--id", help="pod id, when several pods share the name")]
KeyOpt = Annotated[
    Path | None, typer.Option("--key", help="SSH public key file (default: PUBLIC_KEY, else ~/.ssh/id_*.pub)")
]


def _client() -> Runpod:
    with user_errors():
        return Runpod()


def _show_ssh(pod: Pod, identity: Path | None) -> None:
    with user_errors(code=1):  # an address or name from the API that cannot be pasted safely
        command, entry = shlex.join(ssh_command(pod, identity)), ssh_config_entry(pod, identity)
    console.print(f"ssh: [bold]{escape(command)}[/]")
    console.print("~/.ssh/config entry for VS Code Remote-SSH ('Remote-SSH: Connect to Host...' ->", end=" ")
    console.print(f"mjpod-{pod.name}):", highlight=False, markup=False)
    console.print(entry, highlight=False, markup=False, soft_wrap=True)


@runpod_app.command("up")
def up(
    image: Annotated[
        str, typer.Option(help="image in a registry Runpod can pull, e.g. docker.io/you/mjpod:0.1")
    ],
    gpu: Annotated[str, typer.Option(help="Runpod GPU type id (`mjpod runpod gpus` lists them)")] = (
        "NVIDIA GeForce RTX 4090"
    ),
    cloud: Annotated[str, typer.Option(help=f"cloud type: {', '.join(CLOUDS)}")] = "SECURE",
    gpu_count: Annotated[int, typer.Option(help="GPUs in the pod")] = 1,
    disk: Annotated[int, typer.Option(help="container disk, GB (the image is several GB)")] = 40,
    volume: Annotated[
        int, typer.Option(help="pod volume at /workspace, GB (videos, results, Warp cache)")
    ] = 20,
    name: NameOpt = POD_NAME,
    key: KeyOpt = None,
    warp_cuda: Annotated[
        int, typer.Option(help="the image's WARP_CUDA: 13 picks hosts with CUDA 13 drivers, 12 any CUDA 12+")
    ] = 13,
    port: Annotated[
        list[str] | None, typer.Option(help="ports to expose (default 22/tcp); repeat, e.g. --port 8080/http")
    ] = None,
    wait: Annotated[float, typer.Option(help="seconds to wait for the SSH port; 0 returns at once")] = 600,
    spot: Annotated[
        bool,
        typer.Option("--spot", help="an interruptible pod at a bid: far cheaper, may be stopped any time"),
    ] = False,
    bid: Annotated[
        float | None,
        typer.Option(help="with --spot: dollars per GPU per hour (default: Runpod's spot price now)"),
    ] = None,
    network_volume: Annotated[
        str | None,
        typer.Option(
            help="network volume (id or name) at /workspace: it outlives the pod; sets the data centre"
        ),
    ] = None,
    create_volume: Annotated[
        bool,
        typer.Option(
            "--create-volume", help="create --network-volume NAME (--volume GB in --data-center) if absent"
        ),
    ] = False,
    data_center: Annotated[
        str | None, typer.Option(help="Runpod data centre id (e.g. EU-RO-1) for the pod and a new volume")
    ] = None,
    idle_stop: Annotated[
        float | None,
        typer.Option(
            help="minutes without an SSH session, mjpod job or viewer after which the pod stops itself"
        ),
    ] = None,
    idle_terminate: Annotated[
        bool, typer.Option("--idle-terminate", help="with --idle-stop: terminate instead of stop")
    ] = False,
    idle_key_secret: Annotated[
        str | None,
        typer.Option(
            help="with --idle-stop: a Runpod secret holding the key to stop with (default: the pod's own)"
        ),
    ] = None,
) -> None:
    """Create a pod from the image with your SSH key; print the ssh command and a ~/.ssh/config entry."""
    with user_errors():
        public_key, identity = find_public_key(key)
        request = PodRequest(
            name=name,
            image=image,
            gpu=gpu,
            public_key=public_key,
            cloud=cloud.upper(),
            gpu_count=gpu_count,
            disk_gb=disk,
            volume_gb=volume,
            warp_cuda=warp_cuda,
            ports=tuple(port) if port else ("22/tcp",),
            spot=spot,
            bid=bid,
            network_volume=network_volume,
            create_volume=create_volume,
            data_center=data_center,
            idle_stop=idle_stop,
            idle_terminate=idle_terminate,
            idle_key_secret=idle_key_secret,
        )
        request.check()
    client = _client()
    storage = f"network volume {network_volume}" if network_volume else f"volume {volume} GB"
    console.print(
        f"creating {'a spot' if spot else 'an on-demand'} pod {name!r}: {image} on {gpu_count} x {gpu} "
        f"({request.cloud} cloud), disk {disk} GB, {storage} at /workspace, ports {', '.join(request.ports)}",
        highlight=False,
        markup=False,
    )
    for line in _plan_notes(request):
        console.print(line, highlight=False, markup=False)

    def say(line: str) -> None:
        console.print(f"  {line}", highlight=False, markup=False)

    with user_errors(code=1):  # the request was fine: Runpod's side failed
        pod = client.create(request, say)
        console.print(f"pod {pod.id} created; billing runs until `make runpod-down`", markup=False)
        if spot and pod.cost_per_hr is not None:
            console.print(
                f"spot price: ${pod.cost_per_hr:.3f}/hr for {gpu_count} GPU(s) (Runpod may stop the pod "
                "when outbid; it resumes with a bid)",
                highlight=False,
                markup=False,
            )
        if wait <= 0:
            console.print("not waiting: `make runpod-ssh` prints the ssh command once the pod is up")
            return
        console.print("waiting for its SSH port (pulling the image can take minutes) ...")
        last: list[str] = []

        def progress(p: Pod) -> None:
            if [p.status] != last:
                console.print(f"  status {p.status}", markup=False)
                last[:] = [p.status]

        pod = client.wait_for_ssh(pod.id, timeout=wait, progress=progress)
    cost = f", ${pod.cost_per_hr}/hr" if pod.cost_per_hr is not None else ""
    console.print(f"[green]ready:[/] {escape(f'pod {pod.id} {pod.gpu}{cost}')}", highlight=False)
    _show_ssh(pod, identity)


def _plan_notes(request: PodRequest) -> list[str]:
    """What the user should know about this pod before paying for it."""
    notes = []
    if request.spot and not request.network_volume:
        notes.append(
            "note: a spot pod keeps /workspace on its own pod volume, which only that pod can resume "
            "with; with --network-volume any next pod finds the videos and sweeps (a re-run sweep skips "
            "finished jobs)"
        )
    if request.idle_stop is not None:
        action = "terminates" if request.idle_terminate else "stops"
        key = (
            f"the key in Runpod secret {request.idle_key_secret}"
            if request.idle_key_secret
            else "its own key"
        )
        notes.append(
            f"idle stop: the pod {action} itself after {request.idle_stop:g} min without an SSH session, an "
            f"mjpod job or a viewer, with {key}"
        )
    if request.idle_terminate and not request.network_volume:
        notes.append("note: --idle-terminate without --network-volume deletes /workspace with the pod")
    return notes


@runpod_app.command("down")
def down(
    name: NameOpt = POD_NAME,
    pod_id: IdOpt = None,
    stop: Annotated[
        bool, typer.Option("--stop", help="only stop it (its pod volume stays, and is billed)")
    ] = False,
) -> None:
    """Terminate the pod (or --stop it), so that billing ends; says what is kept and what is lost."""
    client = _client()
    with user_errors(code=1):
        pod = client.find(name, pod_id)
        volume = _volume_of(client, pod)
        (client.stop if stop else client.terminate)(pod.id)
    console.print(
        f"pod {pod.id} ({pod.name}) {'stopped' if stop else 'terminated'}", highlight=False, markup=False
    )
    for line in down_report(pod, stop, volume):
        console.print(f"  {line}", highlight=False, markup=False)


def _volume_of(client: Runpod, pod: Pod) -> NetworkVolume | None:
    """The pod's network volume, to name it; None when it has none or it cannot be looked up."""
    if not pod.network_volume_id:
        return None
    with contextlib.suppress(MjpodError):
        return next((v for v in client.network_volumes() if v.id == pod.network_volume_id), None)
    return None


@runpod_app.command("ssh")
def ssh(
    name: NameOpt = POD_NAME,
    pod_id: IdOpt = None,
    key: KeyOpt = None,
    exec_: Annotated[
        bool, typer.Option("--exec", help="run ssh now instead of printing the command")
    ] = False,
) -> None:
    """Print how to reach the pod by SSH (and its ~/.ssh/config entry), or connect with --exec."""
    client = _client()
    with user_errors(code=1):
        pod = client.find(name, pod_id)
    identity = None
    if key:  # a key named on the command line must be usable
        with user_errors():
            identity = find_public_key(key)[1]
    else:  # none found: ssh uses its defaults and the agent
        with contextlib.suppress(RunpodError):
            identity = find_public_key(None)[1]
    if not (pod.ssh_host and pod.ssh_port):
        raise fail(
            f"pod {pod.id} has no public SSH port yet (status {pod.status}); try again in a minute", code=1
        )
    if exec_:
        with user_errors(code=1):
            argv = ssh_command(pod, identity)
        console.print(shlex.join(argv), highlight=False, markup=False)
        os.execvp(argv[0], argv)
    _show_ssh(pod, identity)


@runpod_app.command("gpus")
def gpus() -> None:
    """List Runpod's GPU type ids (for --gpu / RUNPOD_GPU)."""
    client = _client()
    with user_errors(code=1):
        types = client.gpu_types()
    for t in sorted(types, key=lambda t: (t.get("memoryInGb") or 0, t.get("id", ""))):
        console.print(
            f"{t.get('id')!s:40} {t.get('memoryInGb') or '?':>4} GB  {t.get('displayName') or ''}",
            highlight=False,
            markup=False,
        )


@runpod_app.command("volumes")
def network_volumes() -> None:
    """List your network volumes (for --network-volume): id, name, size and data centre."""
    client = _client()
    with user_errors(code=1):
        listed = client.network_volumes()
    if not listed:
        console.print(
            "no network volumes: `mjpod runpod up --network-volume NAME --create-volume --data-center DC`"
        )
    for v in sorted(listed, key=lambda v: (v.data_center, v.name)):
        size = f"{v.size_gb} GB" if v.size_gb is not None else "?"
        console.print(f"{v.id:24} {v.data_center:10} {size:>8}  {v.name}", highlight=False, markup=False)


@runpod_app.command("idle-watch", hidden=True)
def idle_watch(
    minutes: Annotated[float, typer.Option(envvar="MJPOD_IDLE_STOP", help="idle minutes before stopping")],
    pod_id: Annotated[str, typer.Option("--pod-id", envvar="RUNPOD_POD_ID", help="this pod's id")],
    action: Annotated[str, typer.Option(envvar="MJPOD_IDLE_ACTION", help="stop or terminate")] = "stop",
    poll: Annotated[float, typer.Option(envvar="MJPOD_IDLE_POLL", help="seconds between two looks")] = 30.0,
) -> None:
    """In a pod started with --idle-stop (the entrypoint runs it): stop the pod once nothing is in use.
    The key comes from the environment only (MJPOD_IDLE_STOP_KEY, else RUNPOD_API_KEY), never argv."""
    from mjpod.jobs import idle_stop

    def log(line: str) -> None:
        print(f"mjpod-idle: {line}", file=sys.stderr, flush=True)

    with user_errors():
        settings = idle_stop.IdleSettings(pod_id, minutes, action, poll)
        client = Runpod(api_key=idle_stop.pod_key())
    idle_stop.watch(settings, client, log)
