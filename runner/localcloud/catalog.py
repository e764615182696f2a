"""What the stand-in account can buy: droplet sizes with their prices, regions and images.

The figures follow DigitalOcean's public price list for the plans a Badger Sett swarm
would pick, so cost estimates made against the local cloud match a real run's. A size,
region or image that is not listed here is refused with 422, as the real API does.
"""

REGIONS = {
    "nyc1": "New York 1",
    "nyc2": "New York 2",
    "nyc3": "New York 3",
    "sfo2": "San Francisco 2",
    "sfo3": "San Francisco 3",
    "ams3": "Amsterdam 3",
    "sgp1": "Singapore 1",
    "lon1": "London 1",
    "fra1": "Frankfurt 1",
    "tor1": "Toronto 1",
    "blr1": "Bangalore 1",
    "syd1": "Sydney 1",
}

REGION_FEATURES = ["backups", "ipv6", "metadata", "install_agent", "storage", "image_transfer"]

# slug: (description, vcpus, memory MiB, disk GB, transfer TB, price_monthly, price_hourly)
_SIZE_TABLE = {
    "s-1vcpu-512mb-10gb": ("Basic", 1, 512, 10, 0.5, 4.0, 0.00595),
    "s-1vcpu-1gb": ("Basic", 1, 1024, 25, 1.0, 6.0, 0.00893),
    "s-1vcpu-2gb": ("Basic", 1, 2048, 50, 2.0, 12.0, 0.01786),
    "s-2vcpu-2gb": ("Basic", 2, 2048, 60, 3.0, 18.0, 0.02679),
    "s-2vcpu-4gb": ("Basic", 2, 4096, 80, 4.0, 24.0, 0.03571),
    "s-4vcpu-8gb": ("Basic", 4, 8192, 160, 5.0, 48.0, 0.07143),
    "s-8vcpu-16gb": ("Basic", 8, 16384, 320, 6.0, 96.0, 0.14286),
    "c-2": ("CPU-Optimized", 2, 4096, 25, 4.0, 42.0, 0.0625),
    "c-4": ("CPU-Optimized", 4, 8192, 50, 5.0, 84.0, 0.125),
    "g-2vcpu-8gb": ("General Purpose", 2, 8192, 25, 4.0, 63.0, 0.09375),
    "m-2vcpu-16gb": ("Memory-Optimized", 2, 16384, 50, 4.0, 84.0, 0.125),
}

# The smallest plan is sold in fewer regions, as on the real price list.
_SMALL_SIZE_REGIONS = ["nyc1", "sfo3", "ams3", "sgp1", "fra1", "syd1"]

# slug: (id, distribution, name, min_disk_size)
_IMAGE_TABLE = {
    "ubuntu-24-04-x64": (163_000_001, "Ubuntu", "24.04 (LTS) x64", 7),
    "ubuntu-22-04-x64": (163_000_002, "Ubuntu", "22.04 (LTS) x64", 7),
    "debian-12-x64": (163_000_003, "Debian", "12 x64", 7),
    "fedora-40-x64": (163_000_004, "Fedora", "40 x64", 7),
}
IMAGE_CREATED_AT = "2024-04-24T00:00:00Z"


def size_regions(slug: str) -> list[str]:
    if slug == "s-1vcpu-512mb-10gb":
        return list(_SMALL_SIZE_REGIONS)
    return sorted(REGIONS)


def size(slug: str) -> dict | None:
    row = _SIZE_TABLE.get(slug)
    if row is None:
        return None
    description, vcpus, memory, disk, transfer, monthly, hourly = row
    return {
        "slug": slug,
        "description": description,
        "vcpus": vcpus,
        "memory": memory,
        "disk": disk,
        "transfer": transfer,
        "price_monthly": monthly,
        "price_hourly": hourly,
        "regions": size_regions(slug),
        "available": True,
    }


def sizes() -> list[dict]:
    return [size(slug) for slug in _SIZE_TABLE]


def region(slug: str) -> dict | None:
    if slug not in REGIONS:
        return None
    return {
        "slug": slug,
        "name": REGIONS[slug],
        "features": list(REGION_FEATURES),
        "available": True,
        "sizes": [s for s in _SIZE_TABLE if slug in size_regions(s)],
    }


def regions() -> list[dict]:
    return [region(slug) for slug in REGIONS]


def image(slug_or_id) -> dict | None:
    """An image by slug, or by id given as a number or a string of digits."""
    for slug, (image_id, distribution, name, min_disk) in _IMAGE_TABLE.items():
        if slug_or_id in (slug, image_id, str(image_id)):
            return {
                "id": image_id,
                "name": name,
                "distribution": distribution,
                "slug": slug,
                "public": True,
                "regions": sorted(REGIONS),
                "created_at": IMAGE_CREATED_AT,
                "min_disk_size": min_disk,
                "type": "base",
                "size_gigabytes": 2.4,
                "description": f"{distribution} {name}",
                "tags": [],
                "status": "available",
                "error_message": "",
            }
    return None


def images() -> list[dict]:
    return [image(slug) for slug in _IMAGE_TABLE]
