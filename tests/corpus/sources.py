"""The CSV corpus's sources: pinned releases on PyPI and npm, and Debian packages, each with the
SHA-256 of its archive, its licence and the folder of the archive that holds its test fixtures.

The first five were chosen when the corpus test was written; the others were added later as a
wider check (their files were never looked at while the transform was tuned, until the first
comparison): statistics and plotting packages' datasets, a data-validation suite's fixtures, and
R's and Rust's CSV readers' own test files (data.table's ``fread`` tests are the hardest of all).
Each licence lets us read the files in a test; none is redistributed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PYPI = "https://files.pythonhosted.org/packages"
NPM = "https://registry.npmjs.org"
DEBIAN = "http://deb.debian.org/debian"
CSV_NAME = re.compile(r"\.(csv|tsv)$", re.IGNORECASE)
R_FIXTURES = re.compile(r"\.(csv|tsv|txt|csvy|dat)(\.(gz|bz2|xz))?$", re.IGNORECASE)
"""R readers' fixtures are named ``.txt`` and ``.csvy`` as often as ``.csv``, and some are compressed."""
EXTENSIONLESS_OR_CSV = re.compile(r"(^|/)[^./]+$|\.(csv|tsv)$", re.IGNORECASE)
"""csvtojson names its fixtures without an extension."""


@dataclass(frozen=True)
class Source:
    name: str
    url: str
    sha256: str
    licence: str
    under: str
    """Only files below this folder of the archive are kept (its test fixtures)."""
    names: re.Pattern[str] = CSV_NAME
    """Which files below ``under`` are CSV fixtures (matched against the path below it)."""


SOURCES = (
    Source(
        "csvkit",
        f"{PYPI}/9a/bf/59b035abead12d9498c96dc05b965ec77683d3c794305dec2648e23830cc/csvkit-2.2.0.tar.gz",
        "147318a8dbaec07c0bbb9291c14b78de5fa32ed3d4a5c2396e52a83c0a30df6b",
        "MIT",
        "csvkit-2.2.0/examples/",
    ),
    Source(
        "agate",
        f"{PYPI}/16/48/dc4d02dba00fbe62e966ed1a7d991e51654668ab343a2738bb816aa82256/agate-1.14.2.tar.gz",
        "7f29841c39d84b1de7fde762b8d792085371515324f3a01413b20f810398225b",
        "MIT",
        "agate-1.14.2/examples/",
    ),
    Source(
        "frictionless",
        f"{PYPI}/a4/f2/a0978b650b0c8b19e087e545aeb992d3f0b3596c763244565f1ea9075056/frictionless-5.21.0.tar.gz",
        "4d9848570bc682943375824a4be7633e8bbdeff228affee763cab346e48000b4",
        "MIT",
        "frictionless-5.21.0/data/",
    ),
    Source(
        "csv-spectrum",
        f"{NPM}/csv-spectrum/-/csv-spectrum-2.0.0.tgz",
        "002a6a938bf51ceb26af7b760f5c1b54baca4820b0e9142f135619210c93d021",
        "BSD-2-Clause",
        "package/csvs/",
    ),
    Source(
        "papaparse",
        f"{NPM}/papaparse/-/papaparse-5.7.1.tgz",
        "c78b4aa4a792378059ebcfc71b91601a310e0456f431999c8e95b6f4b614b85c",
        "MIT",
        "package/tests/",
    ),
    Source(
        "statsmodels",
        f"{PYPI}/9d/4f/a96e682f82b675e4a6f3de8ad990587d8b1fde500a630a2aabcaabee11d8/"
        "statsmodels-0.14.4-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "e332c2d9b806083d1797231280602340c5c913f90d4caa0213a6a54679ce9331",
        "BSD-3-Clause",
        "statsmodels/",
    ),
    Source(
        "lifelines",
        f"{PYPI}/8a/fb/5ed80a8932630d4ae33af186a87008c9b48f02bc515380acc1a4b1fec162/lifelines-0.30.3-py3-none-any.whl",
        "44802480a28d6cb836c7fea4a54ec0ba220eb31c6d7444589637a8bd66066e8c",
        "MIT",
        "lifelines/datasets/",
    ),
    Source(
        "plotnine",
        f"{PYPI}/93/b1/e1c84e68cf24e83c4d251122e04c48840be203dafb4727e738381cdefa74/plotnine-0.13.6-py3-none-any.whl",
        "4acc1af29fa4e91e726b67d49277e8368f62e1c817f01bf14ecd8ca5e83bfaea",
        "MIT",
        "plotnine/data/",
    ),
    Source(
        "sklearn",
        f"{PYPI}/49/21/3723de321531c9745e40f1badafd821e029d346155b6c79704e0b7197552/"
        "scikit_learn-1.5.2-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "f8b0ccd4a902836493e026c03256e8b206656f91fbcc4fde28c57a5b752561f1",
        "BSD-3-Clause",
        "sklearn/datasets/data/",
    ),
    Source(
        "astropy",
        f"{PYPI}/39/38/1c5263f0d775def518707ccd1cf9d4df1d99d523fc148df9e38aa5ba9d54/"
        "astropy-6.1.7-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
        "fcd99e627692f8e58bb3097d330bfbd109a22e00dab162a67f203b0a0601ad2c",
        "BSD-3-Clause",
        "astropy/",
    ),
    Source(
        "great_expectations",
        f"{PYPI}/28/ea/aba55091c04ea67dc273385d35b5d06a2c01f7806f8126fe37afc4e49eb5/great_expectations-0.15.50.tar.gz",
        "0b00c974410d598a97b4c662d7955d80d6268e35c5f3893ddb546f75432412db",
        "Apache-2.0",
        "great_expectations-0.15.50/tests/",
    ),
    Source(
        "xlsx2csv",
        f"{PYPI}/62/36/9d53c4a72dcdc08fcf46f3d02f71f22bc693bb66e87bd935e0c9668500ad/xlsx2csv-0.8.6.tar.gz",
        "618fc502612860de8ab8e3d6195e99ef332fffc68337f6b89e59690aad0d20b5",
        "MIT",
        "xlsx2csv-0.8.6/test/",
    ),
    Source(
        "csvtojson",
        f"{NPM}/csvtojson/-/csvtojson-2.0.10.tgz",
        "41ab7fecdc9cf7007696196d927560741cecdf7fc28c47565221178bfb3ae592",
        "MIT",
        "package/test/data/",
        names=EXTENSIONLESS_OR_CSV,
    ),
    Source(
        "vega-datasets",
        f"{NPM}/vega-datasets/-/vega-datasets-3.2.1.tgz",
        "6f72fda460a9863fae5fcb32f85bcd49e1761fdea6dc6cf9f4962472881cc5a3",
        "BSD-3-Clause",
        "package/data/",
    ),
    Source(
        "r-data.table",
        f"{DEBIAN}/pool/main/r/r-cran-data.table/r-cran-data.table_1.14.8+dfsg-1_amd64.deb",
        "acc534d76907f663fe22e4ee287ac8e91bdc67d13a2f4321f59a0d140f58d4fc",
        "MPL-2.0",
        "./usr/lib/R/site-library/data.table/tests/",
        names=R_FIXTURES,
    ),
    Source(
        "r-readr",
        f"{DEBIAN}/pool/main/r/r-cran-readr/r-cran-readr_2.1.4-1_amd64.deb",
        "b5c4751c7bbe16ea98b43b0d05007493151acdcf2051db8d37883b189578b824",
        "MIT",
        "./usr/lib/R/site-library/readr/extdata/",
        names=R_FIXTURES,
    ),
    Source(
        "r-vroom",
        f"{DEBIAN}/pool/main/r/r-cran-vroom/r-cran-vroom_1.6.1-1_amd64.deb",
        "8d223248088737d7ddd0146b3d7956196bb6957e8bf221f1deb3759fe9d62436",
        "MIT",
        "./usr/lib/R/site-library/vroom/",
        names=R_FIXTURES,
    ),
    Source(
        "rust-csv",
        f"{DEBIAN}/pool/main/r/rust-csv/librust-csv-dev_1.1.6-1_amd64.deb",
        "65240da8c7a7bc551ccfe039f2f9c9b8924e229e50fddbb4402f5db7eca01d8b",
        "MIT OR Unlicense",
        "./usr/share/cargo/registry/csv-1.1.6/examples/data/",
    ),
    Source(
        "text-csv-perl",
        f"{DEBIAN}/pool/main/libt/libtext-csv-perl/libtext-csv-perl_2.02.orig.tar.gz",
        "84120de3e10489ea8fbbb96411a340c32cafbe5cdff7dd9576b207081baa9d24",
        "Artistic-1.0 OR GPL-1.0+",
        "Text-CSV-2.02/files/",
    ),
)
