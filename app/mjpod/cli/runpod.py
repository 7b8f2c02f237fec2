"""`mjpod runpod up|down|ssh|gpus`: the appliance on a Runpod GPU pod (what `make runpod-*` runs)."""

from __future__ import annotations

import contextlib
import os
import shlex
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
    find_public_key,
    ssh_command,
    ssh_config_entry,
)

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
        )
        request.check()
    client = _client()
    console.print(
        f"creating pod {name!r}: {image} on {gpu_count} x {gpu} ({request.cloud} cloud), disk {disk} GB, "
        f"volume {volume} GB at /workspace, ports {', '.join(request.ports)}",
        highlight=False,
        markup=False,
    )
    with user_errors(code=1):  # the request was fine: Runpod's side failed
        pod = client.create(request)
        console.print(f"pod {pod.id} created; billing runs until `make runpod-down`", markup=False)
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


@runpod_app.command("down")
def down(
    name: NameOpt = POD_NAME,
    pod_id: IdOpt = None,
    stop: Annotated[
        bool, typer.Option("--stop", help="only stop it (the volume stays, and is billed)")
    ] = False,
) -> None:
    """Terminate the pod (or --stop it), so that billing ends."""
    client = _client()
    with user_errors(code=1):
        pod = client.find(name, pod_id)
        (client.stop if stop else client.terminate)(pod)
    console.print(
        f"pod {pod.id} ({pod.name}) {'stopped' if stop else 'terminated'}", highlight=False, markup=False
    )


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
