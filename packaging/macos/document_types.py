"""Info.plist entries for macOS: ndviewer opens .nwb documents (used by ndviewer.spec).

macOS learns which app opens a file type from the bundle's Info.plist: a Uniform Type
Identifier for NWB that conforms to public.data (there is no system UTI for HDF5), and a
document type naming it with the role Viewer ("Editor" would claim we create NWB files).
Double-clicked files then reach the running app as QFileOpenEvent (ndviewer/gui/desktop.py).
"""

NWB_UTI = "org.nwb.nwb"

INFO_PLIST = {
    "CFBundleName": "ndviewer",
    "CFBundleDisplayName": "ndviewer",
    "CFBundleIdentifier": "org.ndviewer.ndviewer",
    "NSHighResolutionCapable": True,
    "LSMinimumSystemVersion": "11.0",
    "UTExportedTypeDeclarations": [
        {
            "UTTypeIdentifier": NWB_UTI,
            "UTTypeDescription": "Neurodata Without Borders (NWB) file",
            "UTTypeConformsTo": ["public.data"],
            "UTTypeTagSpecification": {"public.filename-extension": ["nwb"]},
        }
    ],
    "CFBundleDocumentTypes": [
        {
            "CFBundleTypeName": "NWB file",
            "CFBundleTypeRole": "Viewer",
            "LSHandlerRank": "Owner",
            "LSItemContentTypes": [NWB_UTI],
        }
    ],
}
