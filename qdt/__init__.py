"""QDT: desktop GIS for Qingdao's digital-twin city base map (全市一张数字底板)."""

__version__ = "0.1.0"
